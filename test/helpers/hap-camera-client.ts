/**
 * The Home app, for tests: pairs with a HAP accessory over IP (hap-controller),
 * takes snapshots and runs live streams by writing the camera TLVs itself,
 * then verifies/decrypts every SRTP packet and reassembles H.264.
 *
 * HAP-NodeJS binds a stream session to the TCP connection that wrote
 * SetupEndpoints and ends it when that connection closes, so each stream keeps
 * one persistent, pair-verified connection (its own by default) until stop()
 * or dispose().
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { randomBytes, randomUUID } from 'node:crypto';
import { Socket as TcpSocket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HttpClient } from 'hap-controller';
import type { PairingData } from 'hap-controller';
import { Tlv, encodeTlv, f32, u16, u32, uuidToBytes, bytesToUuid } from './tlv8.js';
import type { TlvPair } from './tlv8.js';
import { SrtpContext, isRtcp, makeKeys } from './srtp.js';
import type { SrtpKeys } from './srtp.js';
import { H264Depacketizer, buildReceiverReport, parseRtcpCompound, parseRtp } from './rtp-h264.js';
import type { ReportBlock } from './rtp-h264.js';
import { decodeH264, decodeOpus } from './h264-decode.js';
import type { AudioDecodeResult, DecodeResult } from './h264-decode.js';

export type { PairingData };

// ---------------------------------------------------------------- constants

/** Short HAP type ids (the first 8 hex digits of the Apple base UUID, no leading zeros). */
export const HapService = {
  AccessoryInformation: '3E',
  CameraRTPStreamManagement: '110',
  MotionSensor: '85',
  Doorbell: '121',
  Microphone: '112',
  Speaker: '113',
} as const;

export const HapChar = {
  Name: '23',
  Manufacturer: '20',
  Model: '21',
  SerialNumber: '30',
  FirmwareRevision: '52',
  Active: 'B0',
  SupportedVideoStreamConfiguration: '114',
  SupportedAudioStreamConfiguration: '115',
  SupportedRTPConfiguration: '116',
  SelectedRTPStreamConfiguration: '117',
  SetupEndpoints: '118',
  StreamingStatus: '120',
  MotionDetected: '22',
  ProgrammableSwitchEvent: '73',
} as const;

export const SessionCommand = { END: 0, START: 1, SUSPEND: 2, RESUME: 3, RECONFIGURE: 4 } as const;
export const SetupStatus = { SUCCESS: 0, BUSY: 1, ERROR: 2 } as const;
export const StreamingStatus = { AVAILABLE: 0, IN_USE: 1, UNAVAILABLE: 2 } as const;
export const CryptoSuite = { AES_CM_128_HMAC_SHA1_80: 0, AES_CM_256_HMAC_SHA1_80: 1, NONE: 2 } as const;
export const AudioCodec = { PCMU: 0, PCMA: 1, AAC_ELD: 2, OPUS: 3, MSBC: 4, AMR: 5, AMR_WB: 6 } as const;

const DEFAULT_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- small utils

export class HapStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(`${message} (HAP status ${status})`);
    this.name = 'HapStatusError';
  }
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** On a timeout the timeout is the error worth reporting; a failing close on top of it is not. */
function closeQuietly(client: HttpClient): void {
  client.close().catch(() => undefined);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(what, ms));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pollUntil(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

function formatPin(pin: string): string {
  const digits = pin.replace(/-/g, '');
  if (!/^\d{8}$/.test(digits)) throw new Error(`PIN must be 8 digits, got "${pin}"`);
  return `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`;
}

/** Full Apple UUID → short form ("00000118-0000-1000-8000-0026BB765291" → "118"). */
export function shortType(uuid: string): string {
  const m = /^([0-9A-F]{8})-0000-1000-8000-0026BB765291$/i.exec(uuid);
  if (!m) return uuid.toUpperCase();
  return (m[1] as string).replace(/^0+/, '').toUpperCase() || '0';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** json-bigint may hand back BigNumber objects; ids are small, so Number() them. */
function toInt(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isFinite(n)) throw new Error(`expected a number, got ${String(v)}`);
  return n;
}

// hap-controller keeps its persistent connection private; reach it through a
// narrow runtime-checked view so we can observe/abort it.
interface HapConnectionView {
  isConnected(): boolean;
  on(event: 'disconnect', listener: () => void): unknown;
}

function persistentConnection(client: HttpClient): HapConnectionView | undefined {
  const c: unknown = Reflect.get(client, '_defaultConnection');
  if (isRecord(c) && typeof c.isConnected === 'function' && typeof c.on === 'function') {
    return c as unknown as HapConnectionView;
  }
  return undefined;
}

function persistentSocket(client: HttpClient): TcpSocket | undefined {
  const conn: unknown = Reflect.get(client, '_defaultConnection');
  if (!isRecord(conn)) return undefined;
  const sock = conn.socket;
  return sock instanceof TcpSocket ? sock : undefined;
}

// ---------------------------------------------------------------- typed model

export interface CharRef {
  aid: number;
  iid: number;
}

export interface HapCharacteristicInfo extends CharRef {
  /** Short type, e.g. "118". */
  type: string;
  uuid: string;
  value: unknown;
  perms: string[];
  format?: string;
}

export interface HapServiceInfo {
  aid: number;
  iid: number;
  type: string;
  uuid: string;
  primary: boolean;
  linked: number[];
  characteristics: HapCharacteristicInfo[];
}

export interface HapAccessoryInfo {
  aid: number;
  services: HapServiceInfo[];
}

export interface RtpStreamManagementIids {
  serviceIid: number;
  supportedVideo: number;
  supportedAudio: number;
  supportedRtp: number;
  setupEndpoints: number;
  selectedConfig: number;
  streamingStatus: number;
  active?: number;
}

export interface CameraInfo {
  aid: number;
  information: {
    name?: string;
    manufacturer?: string;
    model?: string;
    serialNumber?: string;
    firmwareRevision?: string;
  };
  /** One per CameraRTPStreamManagement service, in iid order (= streamIndex). */
  streams: RtpStreamManagementIids[];
  motionDetected?: CharRef;
  doorbellEvent?: CharRef;
  services: HapServiceInfo[];
}

export interface SupportedVideoConfig {
  codec: number;
  profiles: number[];
  levels: number[];
  packetizationModes: number[];
  /** [width, height, fps] */
  resolutions: Array<[number, number, number]>;
}

export interface SupportedAudioConfig {
  codecs: Array<{ type: number; channels: number; bitrateMode: number; sampleRates: number[] }>;
  comfortNoise: boolean;
}

export interface StreamConfigInfo {
  video: SupportedVideoConfig[];
  audio: SupportedAudioConfig;
  cryptoSuites: number[];
}

export function parseSupportedVideo(b64: string): SupportedVideoConfig[] {
  return new Tlv(b64).all(1).map((cfgBuf) => {
    const cfg = new Tlv(cfgBuf);
    const params = cfg.tlv(2);
    return {
      codec: cfg.u8(1),
      profiles: params.all(1).map((b) => b.readUInt8(0)),
      levels: params.all(2).map((b) => b.readUInt8(0)),
      packetizationModes: params.all(3).map((b) => b.readUInt8(0)),
      resolutions: cfg.all(3).map((a): [number, number, number] => {
        const t = new Tlv(a);
        return [t.uint(1), t.uint(2), t.uint(3)];
      }),
    };
  });
}

export function parseSupportedAudio(b64: string): SupportedAudioConfig {
  const t = new Tlv(b64);
  return {
    codecs: t.all(1).map((c) => {
      const ct = new Tlv(c);
      const p = ct.tlv(2);
      return {
        type: ct.u8(1),
        channels: p.opt(1)?.readUInt8(0) ?? 1,
        bitrateMode: p.opt(2)?.readUInt8(0) ?? 0,
        sampleRates: p.all(3).map((b) => b.readUInt8(0)),
      };
    }),
    comfortNoise: (t.opt(2)?.readUInt8(0) ?? 0) === 1,
  };
}

export function parseSupportedRtp(b64: string): number[] {
  return new Tlv(b64).all(2).map((b) => b.readUInt8(0));
}

export interface SrtpParams {
  suite: number;
  key: Buffer;
  salt: Buffer;
}

export interface SetupEndpointsResult {
  sessionId: string;
  status: number;
  address?: { ipv6: boolean; address: string; videoPort: number; audioPort: number };
  videoSrtp?: SrtpParams;
  audioSrtp?: SrtpParams;
  videoSsrc?: number;
  audioSsrc?: number;
}

export function parseSetupEndpointsResponse(b64: string): SetupEndpointsResult {
  const t = new Tlv(b64);
  const srtp = (type: number): SrtpParams | undefined => {
    const b = t.opt(type);
    if (!b) return undefined;
    const s = new Tlv(b);
    return { suite: s.u8(1), key: s.opt(2) ?? Buffer.alloc(0), salt: s.opt(3) ?? Buffer.alloc(0) };
  };
  const addrBuf = t.opt(3);
  let address: SetupEndpointsResult['address'];
  if (addrBuf) {
    const a = new Tlv(addrBuf);
    address = { ipv6: a.u8(1) === 1, address: a.str(2), videoPort: a.uint(3), audioPort: a.uint(4) };
  }
  const sid = t.opt(1);
  return {
    sessionId: sid && sid.length === 16 ? bytesToUuid(sid) : '',
    status: t.opt(2)?.readUInt8(0) ?? SetupStatus.ERROR,
    address,
    videoSrtp: srtp(4),
    audioSrtp: srtp(5),
    videoSsrc: t.opt(6)?.readUInt32LE(0),
    audioSsrc: t.opt(7)?.readUInt32LE(0),
  };
}

// ---------------------------------------------------------------- client

export interface PairOptions {
  host?: string;
  port: number;
  /** "XXX-XX-XXX" (8 plain digits are accepted too). */
  pin: string;
  /** Accessory id (username); informational for hap-controller. */
  deviceId?: string;
  /** Bound for every HAP request. */
  timeoutMs?: number;
}

export interface ConnectOptions {
  host?: string;
  port: number;
  pairing: PairingData;
  deviceId?: string;
  timeoutMs?: number;
}

export interface AudioStreamOptions {
  codec: 'opus' | 'aac-eld';
  /** kHz */
  sampleRate: 16 | 24;
  channels?: number;
  /** Max audio bitrate in kbit/s written in the RTP params (default 24). */
  bitrateKbps?: number;
  variableBitrate?: boolean;
  /** RTP packet time in ms (default 20; iOS uses 30 for AAC-ELD 16k sometimes). */
  packetTimeMs?: number;
  comfortNoise?: boolean;
}

export interface StartStreamOptions {
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  /** Max RTP packet size (default 1378, HAP's IPv4 default). */
  mtu?: number;
  /** H.264 profile 0 baseline / 1 main / 2 high (default: highest advertised). */
  profile?: number;
  /** 0 = 3.1, 1 = 3.2, 2 = 4.0 (default: highest advertised). */
  level?: number;
  audio?: AudioStreamOptions;
  /** Which CameraRTPStreamManagement service (default 0). */
  streamIndex?: number;
  aid?: number;
  /** Send SRTCP receiver reports like iOS does (default true). */
  sendRtcp?: boolean;
  rtcpIntervalMs?: number;
  /** Own pair-verified TCP connection per stream (default) or the client's main one. */
  connection?: 'dedicated' | 'shared';
  videoPayloadType?: number;
  audioPayloadType?: number;
}

export interface SnapshotResult {
  jpeg: Buffer;
  ms: number;
}

export class HapCameraClient {
  private readonly main: HttpClient;
  private readonly listeners = new Set<(ev: { aid: number; iid: number; value: unknown }) => void>();
  private readonly streams = new Set<StreamHandle>();
  private closed = false;

  private constructor(
    readonly host: string,
    readonly port: number,
    readonly pairing: PairingData,
    readonly deviceId: string,
    readonly timeoutMs: number,
    main: HttpClient,
    /** How long pair-setup took (0 when built from existing pairing data). */
    readonly pairMs: number,
  ) {
    this.main = main;
    this.main.on('event', (ev: unknown) => this.dispatchEvent(ev));
  }

  /** Pair-setup with a fresh controller identity. */
  static async pair(opts: PairOptions): Promise<HapCameraClient> {
    const host = opts.host ?? '127.0.0.1';
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deviceId = opts.deviceId ?? 'accessory';
    const client = new HttpClient(deviceId, host, opts.port, undefined, { usePersistentConnections: true });
    const t0 = performance.now();
    try {
      await withTimeout(client.pairSetup(formatPin(opts.pin)), timeoutMs, 'pair-setup', () => closeQuietly(client));
    } catch (err) {
      await client.close();
      throw err;
    }
    const pairMs = performance.now() - t0;
    const pairing = client.getLongTermData();
    if (!pairing) {
      await client.close();
      throw new Error('pair-setup finished without long-term pairing data');
    }
    return new HapCameraClient(host, opts.port, pairing, deviceId, timeoutMs, client, pairMs);
  }

  /** Reuse pairing data from an earlier pair() (e.g. a second "phone" with the same identity). */
  static connect(opts: ConnectOptions): HapCameraClient {
    const host = opts.host ?? '127.0.0.1';
    const deviceId = opts.deviceId ?? 'accessory';
    const client = new HttpClient(deviceId, host, opts.port, opts.pairing, { usePersistentConnections: true });
    return new HapCameraClient(host, opts.port, opts.pairing, deviceId, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, client, 0);
  }

  /** @internal a new pair-verified persistent client (one TCP connection). */
  newConnection(): HttpClient {
    return new HttpClient(this.deviceId, this.host, this.port, this.pairing, { usePersistentConnections: true });
  }

  /** @internal bounded request on a hap-controller client. */
  async call<T>(client: HttpClient, what: string, fn: (c: HttpClient) => Promise<T>, reconnect = true): Promise<T> {
    if (this.closed && client === this.main) throw new Error('HapCameraClient is closed');
    // hap-controller would silently reopen a closed persistent connection with
    // stale session keys and hang: re-verify (main) or fail fast (stream).
    const conn = persistentConnection(client);
    if (conn && !conn.isConnected()) {
      if (!reconnect) throw new Error(`${what}: HAP connection is closed`);
      await client.close();
    }
    return withTimeout(fn(client), this.timeoutMs, what, () => closeQuietly(client));
  }

  async accessories(): Promise<HapAccessoryInfo[]> {
    const db = await this.call(this.main, 'GET /accessories', (c) => c.getAccessories());
    return db.accessories.map((acc) => {
      const aid = toInt(acc.aid);
      return {
        aid,
        services: acc.services.map((s) => ({
          aid,
          iid: toInt(s.iid),
          type: shortType(s.type),
          uuid: s.type,
          primary: s.primary === true,
          linked: (s.linked ?? []).map(toInt),
          characteristics: s.characteristics.map((ch) => ({
            aid,
            iid: toInt(ch.iid),
            type: shortType(ch.type ?? ''),
            uuid: ch.type ?? '',
            value: ch.value,
            perms: ch.perms ?? [],
            format: ch.format,
          })),
        })),
      };
    });
  }

  /** Locate a camera accessory (first one with an RTP stream service unless aid given). */
  async findCamera(aid?: number): Promise<CameraInfo> {
    const accs = await this.accessories();
    const acc =
      aid !== undefined
        ? accs.find((a) => a.aid === aid)
        : accs.find((a) => a.services.some((s) => s.type === HapService.CameraRTPStreamManagement));
    if (!acc) throw new Error(aid !== undefined ? `no accessory with aid ${aid}` : 'no camera accessory found');
    const charOf = (svc: HapServiceInfo, type: string): HapCharacteristicInfo | undefined =>
      svc.characteristics.find((c) => c.type === type);
    const need = (svc: HapServiceInfo, type: string): number => {
      const c = charOf(svc, type);
      if (!c) throw new Error(`service ${svc.type}@${svc.iid} lacks characteristic ${type}`);
      return c.iid;
    };
    const infoSvc = acc.services.find((s) => s.type === HapService.AccessoryInformation);
    const str = (type: string): string | undefined => {
      const v = infoSvc ? charOf(infoSvc, type)?.value : undefined;
      return typeof v === 'string' ? v : undefined;
    };
    const streams = acc.services
      .filter((s) => s.type === HapService.CameraRTPStreamManagement)
      .sort((a, b) => a.iid - b.iid)
      .map((s) => ({
        serviceIid: s.iid,
        supportedVideo: need(s, HapChar.SupportedVideoStreamConfiguration),
        supportedAudio: need(s, HapChar.SupportedAudioStreamConfiguration),
        supportedRtp: need(s, HapChar.SupportedRTPConfiguration),
        setupEndpoints: need(s, HapChar.SetupEndpoints),
        selectedConfig: need(s, HapChar.SelectedRTPStreamConfiguration),
        streamingStatus: need(s, HapChar.StreamingStatus),
        active: charOf(s, HapChar.Active)?.iid,
      }));
    const ref = (svcType: string, charType: string): CharRef | undefined => {
      for (const s of acc.services.filter((x) => x.type === svcType)) {
        const c = charOf(s, charType);
        if (c) return { aid: acc.aid, iid: c.iid };
      }
      return undefined;
    };
    return {
      aid: acc.aid,
      information: {
        name: str(HapChar.Name),
        manufacturer: str(HapChar.Manufacturer),
        model: str(HapChar.Model),
        serialNumber: str(HapChar.SerialNumber),
        firmwareRevision: str(HapChar.FirmwareRevision),
      },
      streams,
      motionDetected: ref(HapService.MotionSensor, HapChar.MotionDetected),
      doorbellEvent: ref(HapService.Doorbell, HapChar.ProgrammableSwitchEvent),
      services: acc.services,
    };
  }

  async readCharacteristics(refs: readonly CharRef[], client: HttpClient = this.main): Promise<unknown[]> {
    const ids = refs.map((r) => `${r.aid}.${r.iid}`);
    const res = await this.call(client, `GET /characteristics ${ids.join(',')}`, (c) => c.getCharacteristics(ids), client === this.main);
    const byId = new Map<string, { value: unknown; status?: number }>();
    for (const ch of res.characteristics) byId.set(`${toInt(ch.aid)}.${toInt(ch.iid)}`, { value: ch.value, status: ch.status });
    return ids.map((id) => {
      const r = byId.get(id);
      if (!r) throw new Error(`characteristic ${id} missing from read response`);
      if (r.status !== undefined && r.status !== 0) throw new HapStatusError(`read ${id} failed`, r.status);
      return r.value;
    });
  }

  async readValue(ref: CharRef, client: HttpClient = this.main): Promise<unknown> {
    const [v] = await this.readCharacteristics([ref], client);
    return v;
  }

  async writeCharacteristic(ref: CharRef, value: unknown, client: HttpClient = this.main): Promise<void> {
    const id = `${ref.aid}.${ref.iid}`;
    const res: unknown = await this.call(client, `PUT /characteristics ${id}`, (c) => c.setCharacteristics({ [id]: value }), client === this.main);
    // 204 → hap-controller echoes our request (no status); 207 → per-characteristic statuses
    if (isRecord(res) && Array.isArray(res.characteristics)) {
      for (const ch of res.characteristics as unknown[]) {
        if (isRecord(ch) && ch.status !== undefined && toInt(ch.status) !== 0) {
          throw new HapStatusError(`write ${id} rejected`, toInt(ch.status));
        }
      }
    }
  }

  /** Subscribe to characteristic events (hap-controller uses a separate connection for these). */
  async subscribe(refs: readonly CharRef[]): Promise<void> {
    const ids = refs.map((r) => `${r.aid}.${r.iid}`);
    await withTimeout(this.main.subscribeCharacteristics(ids), this.timeoutMs, `subscribe ${ids.join(',')}`);
  }

  onEvent(listener: (ev: { aid: number; iid: number; value: unknown }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dispatchEvent(ev: unknown): void {
    if (!isRecord(ev) || !Array.isArray(ev.characteristics)) return;
    for (const ch of ev.characteristics as unknown[]) {
      if (!isRecord(ch)) continue;
      const e = { aid: toInt(ch.aid), iid: toInt(ch.iid), value: ch.value };
      for (const l of this.listeners) l(e);
    }
  }

  async snapshot(width: number, height: number, aid?: number): Promise<SnapshotResult> {
    const t0 = performance.now();
    const jpeg = await this.call(this.main, `snapshot ${width}x${height}`, (c) => c.getImage(width, height, aid));
    return { jpeg, ms: performance.now() - t0 };
  }

  async readStreamConfig(streamIndex = 0, aid?: number): Promise<StreamConfigInfo> {
    const cam = await this.findCamera(aid);
    const s = cam.streams[streamIndex];
    if (!s) throw new Error(`camera has ${cam.streams.length} stream services, no index ${streamIndex}`);
    const [v, a, r] = await this.readCharacteristics([
      { aid: cam.aid, iid: s.supportedVideo },
      { aid: cam.aid, iid: s.supportedAudio },
      { aid: cam.aid, iid: s.supportedRtp },
    ]);
    return { video: parseSupportedVideo(String(v)), audio: parseSupportedAudio(String(a)), cryptoSuites: parseSupportedRtp(String(r)) };
  }

  /** StreamingStatus: 0 available, 1 in use, 2 unavailable. */
  async streamingStatus(streamIndex = 0, aid?: number): Promise<number> {
    const cam = await this.findCamera(aid);
    const s = cam.streams[streamIndex];
    if (!s) throw new Error(`no stream index ${streamIndex}`);
    return new Tlv(String(await this.readValue({ aid: cam.aid, iid: s.streamingStatus }))).u8(1);
  }

  async startStream(opts: StartStreamOptions): Promise<StreamHandle> {
    if (this.closed) throw new Error('HapCameraClient is closed');
    const cam = await this.findCamera(opts.aid);
    const streamIndex = opts.streamIndex ?? 0;
    const iids = cam.streams[streamIndex];
    if (!iids) throw new Error(`camera has ${cam.streams.length} stream services, no index ${streamIndex}`);
    const [v] = await this.readCharacteristics([{ aid: cam.aid, iid: iids.supportedVideo }]);
    const supported = parseSupportedVideo(String(v));
    const client = (opts.connection ?? 'dedicated') === 'dedicated' ? this.newConnection() : this.main;
    const handle = new StreamHandle(this, client, client !== this.main, cam.aid, iids, supported, opts);
    this.streams.add(handle);
    handle.onDispose(() => this.streams.delete(handle));
    try {
      await handle.begin();
    } catch (err) {
      await handle.dispose();
      throw err;
    }
    return handle;
  }

  /** Dispose all streams and close every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.streams].map((s) => s.dispose()));
    this.listeners.clear();
    await this.main.close();
    this.main.removeAllListeners();
  }
}

// ---------------------------------------------------------------- stream

interface RrStats {
  baseSeq: number;
  maxSeq: number;
  cycles: number;
  received: number;
  expectedPrior: number;
  receivedPrior: number;
  transit: number | undefined;
  jitter: number;
}

class MediaLeg {
  readonly socket: UdpSocket;
  rx: SrtpContext | undefined;
  tx: SrtpContext;
  remote: { address: string; port: number } | undefined;
  expectedSsrc: number | undefined;
  packets = 0;
  rtcpIn = 0;
  rtcpOut = 0;
  payloadTypeMismatches = 0;
  ssrcMismatches = 0;
  plainRtpDropped = 0;
  /** Largest datagram received (SRTP incl. tag): checks the accessory honours the MTU. */
  maxPacketBytes = 0;
  lastArrival: number | undefined;
  firstArrival: number | undefined;
  lastSr: { ntpMiddle: number; at: number } | undefined;
  rr: RrStats | undefined;

  constructor(
    readonly kind: 'video' | 'audio',
    readonly localKeys: SrtpKeys,
    readonly localSsrc: number,
    readonly clockRate: number,
  ) {
    this.socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.tx = new SrtpContext(localKeys);
  }

  get authFailures(): number {
    return this.rx?.authFailures ?? 0;
  }

  get replays(): number {
    return this.rx?.stats.rtpReplays ?? 0;
  }

  /** RTP timestamp of the first packet and how far (unwrapped ticks) the newest has moved from it. */
  firstRtpTs: number | undefined;
  rtpSpan = 0;
  private lastRtpTs = 0;

  noteRtp(seq: number, rtpTs: number, arrivalMs: number): void {
    if (this.firstRtpTs === undefined) {
      this.firstRtpTs = rtpTs;
    } else {
      this.rtpSpan += (rtpTs - this.lastRtpTs) | 0;
    }
    this.lastRtpTs = rtpTs;
    const arrivalTs = (arrivalMs / 1000) * this.clockRate;
    if (!this.rr) {
      this.rr = { baseSeq: seq, maxSeq: seq, cycles: 0, received: 0, expectedPrior: 0, receivedPrior: 0, transit: undefined, jitter: 0 };
    }
    const s = this.rr;
    const delta = (seq - s.maxSeq) & 0xffff;
    if (delta < 0x8000) {
      if (seq < s.maxSeq) s.cycles += 0x10000;
      s.maxSeq = seq;
    }
    s.received++;
    const transit = arrivalTs - rtpTs;
    if (s.transit !== undefined) {
      let d = transit - s.transit;
      if (d < 0) d = -d;
      s.jitter += (d - s.jitter) / 16;
    }
    s.transit = transit;
  }

  reportBlock(now: number): ReportBlock | undefined {
    const s = this.rr;
    if (!s || this.expectedSsrc === undefined) return undefined;
    const extMax = s.cycles + s.maxSeq;
    const expected = extMax - s.baseSeq + 1;
    const lost = Math.max(0, expected - s.received);
    const expectedInterval = expected - s.expectedPrior;
    const receivedInterval = s.received - s.receivedPrior;
    s.expectedPrior = expected;
    s.receivedPrior = s.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval << 8) / expectedInterval);
    return {
      ssrc: this.expectedSsrc,
      fractionLost: fraction,
      cumulativeLost: lost,
      highestSeq: extMax >>> 0,
      jitter: Math.round(s.jitter),
      lsr: this.lastSr?.ntpMiddle ?? 0,
      dlsr: this.lastSr ? Math.round(((now - this.lastSr.at) / 1000) * 65536) : 0,
    };
  }
}

export interface StreamPacketCounts {
  video: number;
  audio: number;
  /** SRTCP packets received from the accessory (both legs). */
  rtcpIn: number;
  /** SRTCP receiver reports we sent. */
  rtcpOut: number;
}

export interface ReconfigureOptions {
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
}

/** One live stream as the Home app would run it. */
export class StreamHandle {
  readonly sessionId: string = randomUUID();
  readonly video: MediaLeg;
  readonly audio: MediaLeg;
  readonly depacketizer = new H264Depacketizer();
  private readonly audioPayloadList: Buffer[] = [];
  readonly audioPayloadTypes = new Map<number, number>();
  setup: SetupEndpointsResult | undefined;
  /** SetupEndpoints write + read-back, ms. */
  setupMs = 0;
  /** performance.now() right before the START write. */
  startedAt = 0;
  /** How long the accessory took to answer the START write, ms. */
  startAckMs = 0;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private disposeListeners: Array<() => void> = [];
  private connectionClosedAt: number | undefined;
  private readonly videoPt: number;
  private readonly audioPt: number;
  private readonly profile: number;
  private readonly level: number;
  private readonly audioOpts: Required<AudioStreamOptions>;
  private current: ReconfigureOptions;
  readonly streamIndex: number;

  /** @internal use HapCameraClient.startStream */
  constructor(
    private readonly owner: HapCameraClient,
    private readonly client: HttpClient,
    private readonly ownsConnection: boolean,
    readonly aid: number,
    readonly iids: RtpStreamManagementIids,
    readonly supportedVideo: SupportedVideoConfig[],
    private readonly opts: StartStreamOptions,
  ) {
    const ssrc = (): number => randomBytes(4).readUInt32BE(0);
    const audio = opts.audio ?? { codec: 'opus', sampleRate: 24 };
    this.audioOpts = {
      codec: audio.codec,
      sampleRate: audio.sampleRate,
      channels: audio.channels ?? 1,
      bitrateKbps: audio.bitrateKbps ?? 24,
      variableBitrate: audio.variableBitrate ?? true,
      packetTimeMs: audio.packetTimeMs ?? (audio.codec === 'aac-eld' ? 30 : 20),
      comfortNoise: audio.comfortNoise ?? false,
    };
    this.video = new MediaLeg('video', makeKeys(), ssrc(), 90000);
    this.audio = new MediaLeg('audio', makeKeys(), ssrc(), audio.sampleRate * 1000);
    this.videoPt = opts.videoPayloadType ?? 99;
    this.audioPt = opts.audioPayloadType ?? 110;
    this.streamIndex = opts.streamIndex ?? 0;
    const first = supportedVideo[0];
    this.profile = opts.profile ?? Math.max(0, ...(first?.profiles ?? [0]));
    this.level = opts.level ?? Math.max(0, ...(first?.levels ?? [0]));
    this.current = { width: opts.width, height: opts.height, fps: opts.fps, bitrateKbps: opts.bitrateKbps };
  }

  // ---- lifecycle

  /** @internal bind sockets, SetupEndpoints, START. */
  async begin(): Promise<void> {
    await Promise.all([this.bind(this.video), this.bind(this.audio)]);
    const setupT0 = performance.now();
    await this.writeSetupEndpoints();
    this.watchConnection();
    this.setupMs = performance.now() - setupT0;
    this.startedAt = performance.now();
    await this.owner.writeCharacteristic({ aid: this.aid, iid: this.iids.selectedConfig }, this.selectedConfig(SessionCommand.START).toString('base64'), this.client);
    this.startAckMs = performance.now() - this.startedAt;
    if (this.opts.sendRtcp ?? true) this.startRtcp();
  }

  private bind(leg: MediaLeg): Promise<void> {
    return new Promise((resolve, reject) => {
      leg.socket.once('error', reject);
      leg.socket.bind(0, '127.0.0.1', () => {
        leg.socket.off('error', reject);
        // late errors (e.g. ICMP unreachable surfacing as ECONNREFUSED) must not crash the test
        leg.socket.on('error', () => undefined);
        leg.socket.on('message', (msg) => this.onPacket(leg, msg, performance.now()));
        resolve();
      });
    });
  }

  private watchConnection(): void {
    const conn = persistentConnection(this.client);
    conn?.on('disconnect', () => {
      this.connectionClosedAt ??= performance.now();
    });
  }

  private async writeSetupEndpoints(): Promise<void> {
    const srtp = (k: SrtpKeys): Buffer => encodeTlv([[1, CryptoSuite.AES_CM_128_HMAC_SHA1_80], [2, k.key], [3, k.salt]]);
    const value = encodeTlv([
      [1, uuidToBytes(this.sessionId)],
      [3, encodeTlv([[1, 0], [2, '127.0.0.1'], [3, u16(this.video.socket.address().port)], [4, u16(this.audio.socket.address().port)]])],
      [4, srtp(this.video.localKeys)],
      [5, srtp(this.audio.localKeys)],
    ]);
    const ref = { aid: this.aid, iid: this.iids.setupEndpoints };
    await this.owner.writeCharacteristic(ref, value.toString('base64'), this.client);
    const res = parseSetupEndpointsResponse(String(await this.owner.readValue(ref, this.client)));
    this.setup = res;
    if (res.status !== SetupStatus.SUCCESS) {
      throw new Error(`SetupEndpoints status ${res.status === SetupStatus.BUSY ? 'BUSY' : res.status === SetupStatus.ERROR ? 'ERROR' : res.status}`);
    }
    if (res.sessionId !== this.sessionId) throw new Error(`SetupEndpoints answered session ${res.sessionId}, expected ${this.sessionId}`);
    if (!res.address || !res.videoSrtp || !res.audioSrtp || res.videoSsrc === undefined || res.audioSsrc === undefined) {
      throw new Error('SetupEndpoints response incomplete');
    }
    const legFor = (leg: MediaLeg, params: SrtpParams, port: number, ssrc: number): void => {
      leg.remote = { address: res.address?.address ?? '127.0.0.1', port };
      leg.expectedSsrc = ssrc;
      if (params.suite === CryptoSuite.NONE) return;
      if (params.suite !== CryptoSuite.AES_CM_128_HMAC_SHA1_80) throw new Error(`unsupported SRTP suite ${params.suite}`);
      leg.rx = new SrtpContext({ key: params.key, salt: params.salt });
    };
    legFor(this.video, res.videoSrtp, res.address.videoPort, res.videoSsrc);
    legFor(this.audio, res.audioSrtp, res.address.audioPort, res.audioSsrc);
  }

  private videoParams(cfg: ReconfigureOptions): Buffer {
    return encodeTlv([
      [1, 0],
      [2, encodeTlv([[1, this.profile], [2, this.level], [3, 0]])],
      [3, encodeTlv([[1, u16(cfg.width)], [2, u16(cfg.height)], [3, cfg.fps]])],
      [4, encodeTlv([
        [1, this.videoPt],
        [2, u32(this.setup?.videoSsrc ?? 0)],
        [3, u16(cfg.bitrateKbps)],
        [4, f32(0.5)],
        [5, u16(this.opts.mtu ?? 1378)],
      ])],
    ]);
  }

  private audioParams(): Buffer {
    const a = this.audioOpts;
    return encodeTlv([
      [1, a.codec === 'opus' ? AudioCodec.OPUS : AudioCodec.AAC_ELD],
      [2, encodeTlv([[1, a.channels], [2, a.variableBitrate ? 0 : 1], [3, a.sampleRate === 16 ? 1 : 2], [4, a.packetTimeMs]])],
      [3, encodeTlv([[1, this.audioPt], [2, u32(this.setup?.audioSsrc ?? 0)], [3, u16(a.bitrateKbps)], [4, f32(5)], [6, 13]])],
      [4, a.comfortNoise ? 1 : 0],
    ]);
  }

  private selectedConfig(command: number): Buffer {
    const pairs: TlvPair[] = [[1, encodeTlv([[1, uuidToBytes(this.sessionId)], [2, command]])]];
    if (command === SessionCommand.START) pairs.push([2, this.videoParams(this.current)], [3, this.audioParams()]);
    if (command === SessionCommand.RECONFIGURE) pairs.push([2, this.videoParams(this.current)]);
    return encodeTlv(pairs);
  }

  private async command(command: number): Promise<void> {
    // hap-controller would transparently open a new connection, which the
    // accessory treats as a stranger (-70410); say what actually happened.
    if (this.connectionClosed) throw new Error('stream HAP connection is closed');
    await this.owner.writeCharacteristic(
      { aid: this.aid, iid: this.iids.selectedConfig },
      this.selectedConfig(command).toString('base64'),
      this.client,
    );
  }

  /** RECONFIGURE with new video attributes/bitrate. */
  async reconfigure(cfg: ReconfigureOptions): Promise<void> {
    this.current = { ...cfg };
    await this.command(SessionCommand.RECONFIGURE);
  }

  /** HAP-NodeJS answers SUSPEND/RESUME with -70410; kept for accessories that implement them. */
  async suspend(): Promise<void> {
    await this.command(SessionCommand.SUSPEND);
  }

  async resume(): Promise<void> {
    await this.command(SessionCommand.RESUME);
  }

  /** END the session (the connection stays open until dispose()). RTCP stops too. */
  async stop(): Promise<void> {
    this.goSilent();
    await this.command(SessionCommand.END);
  }

  /** Stop sending RTCP (phone walked off Wi-Fi: no END, no FIN). */
  goSilent(): void {
    if (this.rtcpTimer) clearInterval(this.rtcpTimer);
    this.rtcpTimer = undefined;
  }

  /** Start (again) sending receiver reports every rtcpIntervalMs. */
  startRtcp(): void {
    if (this.rtcpTimer || this.disposed) return;
    const send = (): void => {
      this.sendReceiverReport(this.video);
      this.sendReceiverReport(this.audio);
    };
    send();
    this.rtcpTimer = setInterval(send, this.opts.rtcpIntervalMs ?? 500);
  }

  /**
   * Close the HAP TCP connection without END. 'fin' is an orderly close
   * (app killed); 'rst' aborts it.
   */
  async dropConnection(mode: 'fin' | 'rst' = 'fin'): Promise<void> {
    this.connectionClosedAt ??= performance.now();
    if (mode === 'rst') persistentSocket(this.client)?.resetAndDestroy();
    await this.client.close();
  }

  /** True once our stream connection closed (by us or the accessory). */
  get connectionClosed(): boolean {
    return this.connectionClosedAt !== undefined;
  }

  onDispose(fn: () => void): void {
    this.disposeListeners.push(fn);
  }

  /** Stop RTCP, close UDP sockets and (if dedicated) the HAP connection. Does not send END. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.goSilent();
    for (const leg of [this.video, this.audio]) {
      await new Promise<void>((resolve) => {
        try {
          leg.socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    if (this.ownsConnection) await this.client.close();
    for (const fn of this.disposeListeners) fn();
    this.disposeListeners = [];
  }

  // ---- media

  private onPacket(leg: MediaLeg, msg: Buffer, now: number): void {
    if (isRtcp(msg)) {
      const plain = leg.rx ? leg.rx.unprotectRtcp(msg) : msg;
      if (!plain) return;
      leg.rtcpIn++;
      for (const p of parseRtcpCompound(plain)) {
        if (p.packetType === 200 && p.ntpMiddle !== undefined) leg.lastSr = { ntpMiddle: p.ntpMiddle, at: now };
      }
      return;
    }
    const plain = leg.rx ? leg.rx.unprotectRtp(msg) : msg;
    if (!plain) return;
    const pkt = parseRtp(plain);
    if (!pkt) {
      leg.plainRtpDropped++;
      return;
    }
    leg.packets++;
    leg.maxPacketBytes = Math.max(leg.maxPacketBytes, msg.length);
    leg.firstArrival ??= now;
    leg.lastArrival = now;
    if (leg.expectedSsrc !== undefined && pkt.ssrc !== leg.expectedSsrc) leg.ssrcMismatches++;
    leg.noteRtp(pkt.sequence, pkt.timestamp, now);
    if (leg.kind === 'video') {
      if (pkt.payloadType !== this.videoPt) {
        leg.payloadTypeMismatches++;
        return;
      }
      this.depacketizer.push(pkt, now);
    } else {
      this.audioPayloadTypes.set(pkt.payloadType, (this.audioPayloadTypes.get(pkt.payloadType) ?? 0) + 1);
      if (pkt.payloadType === this.audioPt) this.audioPayloadList.push(Buffer.from(pkt.payload));
      else if (pkt.payloadType !== 13) leg.payloadTypeMismatches++;
    }
  }

  private sendReceiverReport(leg: MediaLeg): void {
    if (!leg.remote || this.disposed) return;
    const block = leg.reportBlock(performance.now());
    const rr = buildReceiverReport(leg.localSsrc, block ? [block] : [], 'hap-camera-client');
    const wire = leg.rx ? leg.tx.protectRtcp(rr) : rr;
    leg.socket.send(wire, leg.remote.port, leg.remote.address, (err) => {
      if (!err) leg.rtcpOut++;
    });
  }

  // ---- observations

  get packets(): StreamPacketCounts {
    return {
      video: this.video.packets,
      audio: this.audio.packets,
      rtcpIn: this.video.rtcpIn + this.audio.rtcpIn,
      rtcpOut: this.video.rtcpOut + this.audio.rtcpOut,
    };
  }

  /** SRTP/SRTCP packets that failed authentication (both legs). */
  get authFailures(): number {
    return this.video.authFailures + this.audio.authFailures;
  }

  /** Authentic SRTP packets refused by the RFC 3711 replay window (both legs). */
  get replays(): number {
    return this.video.replays + this.audio.replays;
  }

  /** First authenticated video RTP packet, ms after the START write began. */
  get firstPacketMs(): number | undefined {
    return this.video.firstArrival === undefined ? undefined : this.video.firstArrival - this.startedAt;
  }

  /**
   * Media time minus wall time from the first to the newest video packet (ms): how far behind the
   * live edge a player that paces by RTP timestamps ends up (a GOP burst with true timestamps adds
   * the whole GOP).
   */
  get videoMediaMinusWallMs(): number | undefined {
    const v = this.video;
    if (v.firstArrival === undefined || v.lastArrival === undefined) return undefined;
    return (v.rtpSpan / v.clockRate) * 1000 - (v.lastArrival - v.firstArrival);
  }

  get firstAudioPacketMs(): number | undefined {
    return this.audio.firstArrival === undefined ? undefined : this.audio.firstArrival - this.startedAt;
  }

  /** First IDR NAL (complete), ms after the START write began. */
  get firstIdrMs(): number | undefined {
    const t = this.depacketizer.firstIdrArrival;
    return t === undefined ? undefined : t - this.startedAt;
  }

  /** ms since the last media packet of either leg (Infinity if none yet). */
  get msSinceLastPacket(): number {
    const last = Math.max(this.video.lastArrival ?? -Infinity, this.audio.lastArrival ?? -Infinity);
    return performance.now() - last;
  }

  annexB(): Buffer {
    return this.depacketizer.annexB();
  }

  audioPayloads(): Buffer[] {
    return [...this.audioPayloadList];
  }

  decode(): Promise<DecodeResult> {
    return decodeH264(this.annexB());
  }

  decodeAudio(): Promise<AudioDecodeResult> {
    if (this.audioOpts.codec !== 'opus') throw new Error('only Opus audio can be decoded here');
    return decodeOpus(this.audioPayloadList, this.audioOpts.channels);
  }

  async waitForPackets(n: number, timeoutMs: number, kind: 'video' | 'audio' = 'video'): Promise<void> {
    const leg = kind === 'video' ? this.video : this.audio;
    if (!(await pollUntil(() => leg.packets >= n, timeoutMs))) {
      throw new TimeoutError(`waiting for ${n} ${kind} packets (got ${leg.packets}, auth failures ${leg.authFailures})`, timeoutMs);
    }
  }

  /** Resolve once ffprobe decodes at least n frames; throws with diagnostics on timeout. */
  async waitForFrames(n: number, timeoutMs: number): Promise<DecodeResult> {
    const deadline = performance.now() + timeoutMs;
    let last: DecodeResult | undefined;
    while (performance.now() < deadline) {
      const left = deadline - performance.now();
      await pollUntil(() => this.depacketizer.stats.accessUnitsSinceIdr > n, left);
      if (this.depacketizer.stats.accessUnitsSinceIdr >= n) {
        last = await this.decode();
        if (last.frames >= n) return last;
      }
      await sleep(100);
    }
    last ??= await this.decode().catch(() => undefined);
    throw new TimeoutError(
      `waiting for ${n} decoded frames: ${JSON.stringify({
        decoded: last?.frames ?? 0,
        packets: this.packets,
        authFailures: this.authFailures,
        nalTypes: this.depacketizer.stats.nalTypes,
        accessUnits: this.depacketizer.stats.accessUnits,
      })}`,
      timeoutMs,
    );
  }

  /** Resolve true once no media arrived for quietMs (false if still flowing at timeout). */
  async waitForSilence(quietMs: number, timeoutMs: number): Promise<boolean> {
    return pollUntil(() => this.msSinceLastPacket >= quietMs, timeoutMs, 25);
  }

  stats(): Record<string, unknown> {
    return {
      sessionId: this.sessionId,
      packets: this.packets,
      authFailures: this.authFailures,
      replays: this.replays,
      ssrcMismatches: this.video.ssrcMismatches + this.audio.ssrcMismatches,
      payloadTypeMismatches: this.video.payloadTypeMismatches + this.audio.payloadTypeMismatches,
      maxVideoPacketBytes: this.video.maxPacketBytes,
      sps: this.depacketizer.spsProfile,
      setupMs: Math.round(this.setupMs),
      startAckMs: Math.round(this.startAckMs),
      firstPacketMs: this.firstPacketMs === undefined ? undefined : Math.round(this.firstPacketMs),
      firstIdrMs: this.firstIdrMs === undefined ? undefined : Math.round(this.firstIdrMs),
      depacketizer: this.depacketizer.stats,
      audioPayloadTypes: Object.fromEntries(this.audioPayloadTypes),
      connectionClosed: this.connectionClosed,
    };
  }
}
