/**
 * A HomeKit home hub, for tests: arms a camera's recording over HAP (as the admin controller that
 * paired), sets up HomeKit Data Streams and receives recordings through them.
 *
 * The hub has its own pair-verified HAP connection (an HDS session dies with the HAP connection that
 * set it up, and its keys come from that connection's pair-verify secret). hap-controller keeps that
 * secret private on `client.pairingProtocol.pairVerify.sharedSecret`; it is read at run time and
 * checked against the connection's Control keys before use.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { HttpClient } from 'hap-controller';
import { HapStatusError, type CharRef, type HapCameraClient, type HapServiceInfo } from './hap-camera-client.js';
import { HdsConnection, hdsKeys, type HdsMessage } from './hds-connection.js';
import type { HdsValue } from './hds-codec.js';
import { encodeTlv, Tlv, u16, u32 } from './tlv8.js';

export const RecordingService = {
  CameraRecordingManagement: '204',
  CameraOperatingMode: '21A',
  DataStreamTransportManagement: '129',
  MotionSensor: '85',
} as const;

export const RecordingChar = {
  Active: 'B0',
  SupportedCameraRecordingConfiguration: '205',
  SupportedVideoRecordingConfiguration: '206',
  SupportedAudioRecordingConfiguration: '207',
  SelectedCameraRecordingConfiguration: '209',
  RecordingAudioActive: '226',
  HomeKitCameraActive: '21B',
  EventSnapshotsActive: '223',
  PeriodicSnapshotsActive: '225',
  SetupDataStreamTransport: '131',
  MotionDetected: '22',
  StatusActive: '75',
} as const;

/** dataSend close reasons (HAP-NodeJS HDSProtocolSpecificErrorReason). */
export const CloseReason = {
  NORMAL: 0, NOT_ALLOWED: 1, BUSY: 2, CANCELLED: 3, UNSUPPORTED: 4, UNEXPECTED_FAILURE: 5, TIMEOUT: 6,
  BAD_DATA: 7, PROTOCOL_ERROR: 8, INVALID_CONFIGURATION: 9,
} as const;

export interface SelectedRecordingConfig {
  prebufferMs: number;
  /** bit 0 motion, bit 1 doorbell */
  eventTriggers: number;
  fragmentMs: number;
  /** 0 baseline, 1 main, 2 high */
  profile: number;
  /** 0 = 3.1, 1 = 3.2, 2 = 4.0 */
  level: number;
  bitrateKbps: number;
  iFrameIntervalMs: number;
  width: number;
  height: number;
  fps: number;
  /** 0 AAC-LC, 1 AAC-ELD */
  audioCodec: number;
  channels: number;
  /** 0 variable, 1 constant */
  bitrateMode: number;
  /** 0 = 8k, 1 = 16k, 2 = 24k, 3 = 32k, 4 = 44.1k, 5 = 48k */
  samplerate: number;
  audioBitrateKbps: number;
}

/** What a real hub (HAP-NodeJS's captured value) selects: 4 s prebuffer, 4 s fMP4 fragments, Main 4.0, AAC-LC 32 kHz. */
export const REAL_HUB_SELECTION: SelectedRecordingConfig = {
  prebufferMs: 4000, eventTriggers: 1, fragmentMs: 4000, profile: 1, level: 2, bitrateKbps: 2000, iFrameIntervalMs: 4000,
  width: 1200, height: 1600, fps: 24, audioCodec: 0, channels: 1, bitrateMode: 0, samplerate: 3, audioBitrateKbps: 64,
};
export const REAL_HUB_SELECTION_B64 = 'AR0BBKAPAAACCAEAAAAAAAAAAwsBAQACBgEEoA8AAAIkAQEAAhIBAQECAQIDBNAHAAAEBKAPAAADCwECsAQCAkAGAwEYAxQBAQACDwEBAQIBAAMBAwQEQAAAAA==';

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function encodeSelectedConfig(c: SelectedRecordingConfig): Buffer {
  const general = encodeTlv([[1, u32(c.prebufferMs)], [2, u64(c.eventTriggers)], [3, encodeTlv([[1, 0], [2, encodeTlv([[1, u32(c.fragmentMs)]])]])]]);
  const video = encodeTlv([
    [1, 0],
    [2, encodeTlv([[1, c.profile], [2, c.level], [3, u32(c.bitrateKbps)], [4, u32(c.iFrameIntervalMs)]])],
    [3, encodeTlv([[1, u16(c.width)], [2, u16(c.height)], [3, c.fps]])],
  ]);
  const audio = encodeTlv([[1, c.audioCodec], [2, encodeTlv([[1, c.channels], [2, c.bitrateMode], [3, c.samplerate], [4, u32(c.audioBitrateKbps)]])]]);
  return encodeTlv([[1, general], [2, video], [3, audio]]);
}

export interface RecordingRefs {
  aid: number;
  active: CharRef;
  supportedCamera: CharRef;
  supportedVideo: CharRef;
  supportedAudio: CharRef;
  selected: CharRef;
  audioActive: CharRef;
  cameraActive: CharRef;
  eventSnapshots: CharRef;
  periodicSnapshots: CharRef;
  setupTransport: CharRef;
  motionDetected: CharRef;
  motionStatusActive: CharRef | undefined;
  /** Service iids linked from CameraRecordingManagement. */
  recordingLinks: number[];
  motionServiceIid: number;
  transportServiceIid: number;
}

function findRefs(aid: number, services: HapServiceInfo[]): RecordingRefs {
  const svc = (type: string): HapServiceInfo => {
    const s = services.find((x) => x.type === type);
    if (!s) throw new Error(`accessory ${aid} has no service ${type} (has ${services.map((x) => x.type).join(',')})`);
    return s;
  };
  const ch = (s: HapServiceInfo, type: string): CharRef => {
    const c = s.characteristics.find((x) => x.type === type);
    if (!c) throw new Error(`service ${s.type} has no characteristic ${type}`);
    return { aid, iid: c.iid };
  };
  const rec = svc(RecordingService.CameraRecordingManagement);
  const mode = svc(RecordingService.CameraOperatingMode);
  const dst = svc(RecordingService.DataStreamTransportManagement);
  const motion = svc(RecordingService.MotionSensor);
  const status = motion.characteristics.find((x) => x.type === RecordingChar.StatusActive);
  return {
    aid,
    active: ch(rec, RecordingChar.Active),
    supportedCamera: ch(rec, RecordingChar.SupportedCameraRecordingConfiguration),
    supportedVideo: ch(rec, RecordingChar.SupportedVideoRecordingConfiguration),
    supportedAudio: ch(rec, RecordingChar.SupportedAudioRecordingConfiguration),
    selected: ch(rec, RecordingChar.SelectedCameraRecordingConfiguration),
    audioActive: ch(rec, RecordingChar.RecordingAudioActive),
    cameraActive: ch(mode, RecordingChar.HomeKitCameraActive),
    eventSnapshots: ch(mode, RecordingChar.EventSnapshotsActive),
    periodicSnapshots: ch(mode, RecordingChar.PeriodicSnapshotsActive),
    setupTransport: ch(dst, RecordingChar.SetupDataStreamTransport),
    motionDetected: ch(motion, RecordingChar.MotionDetected),
    motionStatusActive: status ? { aid, iid: status.iid } : undefined,
    recordingLinks: rec.linked,
    motionServiceIid: motion.iid,
    transportServiceIid: dst.iid,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

interface ConnectionView {
  put(path: string, body: Buffer): Promise<{ statusCode: number; body: Buffer }>;
  sessionKeys: { AccessoryToControllerKey: Buffer } | null;
  isConnected(): boolean;
  on(event: 'disconnect', l: () => void): unknown;
}

function connectionOf(client: HttpClient): ConnectionView {
  const c: unknown = Reflect.get(client, '_defaultConnection');
  if (!isRecord(c) || typeof c.put !== 'function') throw new Error('hap-controller has no persistent connection yet');
  return c as unknown as ConnectionView;
}

/** The pair-verify X25519 secret of the client's persistent connection, checked against its Control key. */
export function pairVerifySecret(client: HttpClient): Buffer {
  const protocol: unknown = Reflect.get(client, 'pairingProtocol');
  const verify: unknown = isRecord(protocol) ? protocol.pairVerify : undefined;
  const secret: unknown = isRecord(verify) ? verify.sharedSecret : undefined;
  if (!Buffer.isBuffer(secret)) throw new Error('hap-controller: no pair-verify shared secret (has its layout changed?)');
  const expected = connectionOf(client).sessionKeys?.AccessoryToControllerKey;
  const derived = Buffer.from(hkdfSync('sha512', secret, 'Control-Salt', 'Control-Read-Encryption-Key', 32));
  if (!expected || !derived.equals(Buffer.from(expected))) throw new Error('pair-verify secret does not match the connection keys');
  return secret;
}

export interface RecordedPacket {
  type: 'mediaInitialization' | 'mediaFragment';
  sequence: number;
  data: Buffer;
  /** performance.now() when its last chunk arrived. */
  at: number;
  chunks: number;
  endOfStream: boolean;
}

/** One dataSend stream as the hub sees it. */
export class HubRecording {
  readonly packets: RecordedPacket[] = [];
  /** Set when the accessory closed the stream itself. */
  accessoryClose: { reason: number; at: number } | undefined;
  endOfStream = false;
  problems: string[] = [];
  private partial: { sequence: number; type: RecordedPacket['type']; chunks: Buffer[]; total: number | undefined } | undefined;
  private readonly off: () => void;

  openResponse: HdsMessage | undefined;

  /** Listens before the open request is sent: its response and the first data can share a TCP read. */
  constructor(readonly connection: HdsConnection, readonly streamId: number) {
    this.off = connection.onMessage((m) => this.onMessage(m));
  }

  get openStatus(): { status: number; reason: number | undefined } {
    const status = this.openResponse?.header.status;
    const reason = this.openResponse?.message.status;
    return { status: typeof status === 'number' ? status : -1, reason: typeof reason === 'number' ? reason : undefined };
  }

  get fragments(): RecordedPacket[] {
    return this.packets.filter((p) => p.type === 'mediaFragment');
  }

  private onMessage(m: HdsMessage): void {
    if (m.header.protocol !== 'dataSend') return;
    if (m.header.event === 'close' && m.message.streamId === this.streamId) {
      const reason = m.message.reason;
      this.accessoryClose = { reason: typeof reason === 'number' ? reason : -1, at: m.at };
      return;
    }
    if (m.header.event !== 'data' || m.message.streamId !== this.streamId) return;
    const packets = m.message.packets;
    if (!Array.isArray(packets)) return void this.problems.push('data event without packets');
    for (const p of packets) this.onPacket(p, m.at);
    if (m.message.endOfStream === true) this.endOfStream = true;
  }

  private onPacket(p: HdsValue, at: number): void {
    if (!isRecord(p) || !Buffer.isBuffer(p.data) || !isRecord(p.metadata)) return void this.problems.push('malformed packet');
    const md = p.metadata;
    const type = md.dataType === 'mediaInitialization' ? 'mediaInitialization' : 'mediaFragment';
    const sequence = Number(md.dataSequenceNumber);
    const chunk = Number(md.dataChunkSequenceNumber);
    if (chunk === 1) {
      if (this.partial) this.problems.push(`packet ${this.partial.sequence} never finished`);
      const expected = this.packets.length + 1;
      if (sequence !== expected) this.problems.push(`sequence ${sequence}, expected ${expected}`);
      this.partial = { sequence, type, chunks: [], total: typeof md.dataTotalSize === 'number' ? md.dataTotalSize : undefined };
    } else if (!this.partial || this.partial.sequence !== sequence || this.partial.chunks.length + 1 !== chunk) {
      return void this.problems.push(`unexpected chunk ${sequence}/${chunk}`);
    }
    this.partial.chunks.push(p.data);
    if (md.isLastDataChunk === true) {
      const data = Buffer.concat(this.partial.chunks);
      if (this.partial.total !== undefined && this.partial.total !== data.length) this.problems.push(`packet ${sequence}: ${data.length} bytes, dataTotalSize ${this.partial.total}`);
      this.packets.push({ type, sequence, data, at, chunks: this.partial.chunks.length, endOfStream: false });
      this.partial = undefined;
    }
  }

  /** Resolves once `n` media fragments have arrived (or rejects when the stream/connection ends first). */
  async waitForFragments(n: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.fragments.length < n) {
      if (this.accessoryClose) throw new Error(`accessory closed the recording (reason ${this.accessoryClose.reason}) after ${this.fragments.length} fragments`);
      if (!this.connection.isOpen) throw new Error(`HDS connection closed after ${this.fragments.length} fragments`);
      if (performance.now() > deadline) throw new Error(`only ${this.fragments.length} of ${n} fragments within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async waitForAccessoryClose(timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (!this.accessoryClose) {
      if (!this.connection.isOpen) throw new Error('HDS connection closed before the accessory closed the stream');
      if (performance.now() > deadline) throw new Error(`accessory did not close the recording within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.accessoryClose.reason;
  }

  /** The modern (tvOS 16+) ending: the hub closes the stream. */
  close(reason: number = CloseReason.NORMAL): void {
    this.connection.event('dataSend', 'close', { streamId: this.streamId, reason });
    this.off();
  }

  /** The legacy ending: the hub acknowledges an endOfStream. */
  ack(): void {
    this.connection.event('dataSend', 'ack', { streamId: this.streamId, endOfStream: true });
    this.off();
  }

  /** init + fragments joined: the recorded clip as one fMP4 file. */
  joined(): Buffer {
    return Buffer.concat(this.packets.map((p) => p.data));
  }
}

export class HdsHub {
  private nextStreamId = 1;

  private constructor(readonly camera: HapCameraClient, readonly client: HttpClient, readonly refs: RecordingRefs) {}

  /** A hub on its own HAP connection, using the admin pairing of `camera`. */
  static async connect(camera: HapCameraClient, aid?: number): Promise<HdsHub> {
    const client = camera.newConnection();
    const db = await camera.call(client, 'hub GET /accessories', (c) => c.getAccessories(), false);
    const accessories = db.accessories.map((a) => ({ aid: Number(a.aid), services: a.services }));
    const cam = await camera.findCamera(aid);
    if (!accessories.some((a) => a.aid === cam.aid)) throw new Error(`hub sees no accessory ${cam.aid}`);
    return new HdsHub(camera, client, findRefs(cam.aid, cam.services));
  }

  async read(ref: CharRef): Promise<unknown> {
    return this.camera.readValue(ref, this.client);
  }

  async write(ref: CharRef, value: unknown): Promise<void> {
    await this.camera.writeCharacteristic(ref, value, this.client);
  }

  /** RecordingAudioActive is a timed-write characteristic: PUT /prepare, then the write with its pid. */
  async timedWrite(ref: CharRef, value: unknown, ttlMs = 5000): Promise<void> {
    const conn = connectionOf(this.client);
    const pid = Math.floor(Math.random() * 0x7fffffff);
    const prep = await conn.put('/prepare', Buffer.from(JSON.stringify({ ttl: ttlMs, pid })));
    if (prep.statusCode !== 200) throw new Error(`PUT /prepare answered ${prep.statusCode}`);
    const body = JSON.stringify({ characteristics: [{ aid: ref.aid, iid: ref.iid, value }], pid });
    const res = await conn.put('/characteristics', Buffer.from(body));
    if (res.statusCode === 204) return;
    const parsed: unknown = JSON.parse(res.body.toString() || '{}');
    const status = isRecord(parsed) && Array.isArray(parsed.characteristics) && isRecord(parsed.characteristics[0]) ? Number(parsed.characteristics[0].status) : NaN;
    if (status !== 0) throw new HapStatusError(`timed write ${ref.aid}.${ref.iid}`, status);
  }

  /** Arm as a hub does: selected configuration, camera on, snapshots on, recording Active, audio. */
  async arm(selection: SelectedRecordingConfig | Buffer, options: { audio?: boolean; active?: boolean; cameraActive?: boolean } = {}): Promise<void> {
    const value = Buffer.isBuffer(selection) ? selection : encodeSelectedConfig(selection);
    await this.write(this.refs.selected, value.toString('base64'));
    await this.write(this.refs.cameraActive, options.cameraActive ?? true ? 1 : 0);
    await this.write(this.refs.eventSnapshots, 1);
    await this.write(this.refs.periodicSnapshots, 1);
    await this.write(this.refs.active, options.active ?? true ? 1 : 0);
    await this.timedWrite(this.refs.audioActive, options.audio ?? false ? 1 : 0);
  }

  /** SetupDataStreamTransport with write-response, keys, TCP connect, control.hello. */
  async openDataStream(): Promise<HdsConnection> {
    const controllerSalt = randomBytes(32);
    const request = encodeTlv([[1, 0], [2, 0], [3, controllerSalt]]).toString('base64');
    const id = `${this.refs.setupTransport.aid}.${this.refs.setupTransport.iid}`;
    const res: unknown = await this.camera.call(this.client, 'SetupDataStreamTransport', (c) => c.setCharacteristics({ [id]: { value: request, r: true } }), false);
    const first = isRecord(res) && Array.isArray(res.characteristics) ? (res.characteristics[0] as unknown) : undefined;
    if (!isRecord(first) || typeof first.value !== 'string') throw new Error(`SetupDataStreamTransport gave no write response: ${JSON.stringify(res)}`);
    const tlv = new Tlv(first.value);
    if (tlv.u8(1) !== 0) throw new Error(`SetupDataStreamTransport status ${tlv.u8(1)}`);
    const port = tlv.tlv(2).uint(1);
    const accessorySalt = tlv.get(3);
    const keys = hdsKeys(pairVerifySecret(this.client), controllerSalt, accessorySalt);
    const connection = await HdsConnection.connect(port, keys);
    const hello = await connection.request('control', 'hello', {});
    if (hello.header.status !== 0) throw new Error(`control.hello answered status ${JSON.stringify(hello.header.status)}`);
    return connection;
  }

  /** dataSend.open: the response tells whether the accessory streams (status 0) or refuses. */
  async openRecording(connection: HdsConnection, reason = 'motion'): Promise<HubRecording> {
    const streamId = this.nextStreamId++;
    const recording = new HubRecording(connection, streamId);
    recording.openResponse = await connection.request('dataSend', 'open', { target: 'controller', type: 'ipcamera.recording', streamId, reason });
    return recording;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
