/**
 * The settings page's requests, answered by homebridge-ui/server.js (a process the Homebridge UI
 * forks while the page is open). Everything the page gets back passes one redaction choke point:
 * the URLs' userinfo, path tokens and every configured password are masked, so no credential is
 * ever sent to the browser, not even one the page itself sent.
 */
import { readFileSync } from 'node:fs';
import type { CameraConfig, PlatformConfig } from '../config/config-types.js';
import { redactSecrets, redactUrl, redactUrlsInText, secretsInUrl } from '../config/redact.js';
import { resolveConfig } from '../config/validate-config.js';
import { hardwareEncoders, probeCapabilities } from '../ffmpeg/capabilities.js';
import { rtspInputArgs, urlInputArgs } from '../ffmpeg/args/input-args.js';
import { snapshotArgs } from '../ffmpeg/args/snapshot-args.js';
import { resolveFfmpeg } from '../ffmpeg/resolve-binary.js';
import { runToBuffer } from '../ffmpeg/run-to-buffer.js';
import { probeRtsp } from '../health/rtsp-probe.js';
import type { HealthPayload } from '../mqtt/payloads.js';
import { RetainedWatch } from '../mqtt/retained-watch.js';
import { createTopics } from '../mqtt/topics.js';
import { isOurPlatform } from '../platform/child-bridge.js';
import { dashboardCameras, type DashboardCamera } from './dashboard-cameras.js';
import { explainConnection, type ConnectionVerdict, type SnapshotOutcome } from './connection-verdict.js';
import { childBridgeUsername, readStatusFile, statusFilePath } from './status-file.js';

export interface UiRequestsInit {
  storagePath: string;
  configPath: string;
  /** Bound for one snapshot; a dashboard tile must not hang. */
  snapshotTimeoutMs?: number;
  probeTimeoutMs?: number;
  /**
   * Bound for the first read of the retained health from the broker (and each reconnection's)
   * before the status file is used.
   */
  mqttTimeoutMs?: number;
}

/** A failure the page shows as it is (already redacted). */
export class UiRequestFailure extends Error {}

export type { DashboardCamera } from './dashboard-cameras.js';

export interface DashboardStatus {
  /** MQTT: the plugin's availability topic says online; file: the process that wrote it is alive. */
  pluginRunning: boolean;
  updatedAt: string | null;
  /**
   * Where the health came from: the broker's retained health topics, or the status file. With
   * 'mqtt', a camera with nothing retained is filled from the file (its own `source` says so).
   */
  source: 'mqtt' | 'file';
  /** Why MQTT is configured but the file was used (redacted); null otherwise. */
  mqttError: string | null;
  cameras: DashboardCamera[];
}

export interface SnapshotReply {
  id: string;
  /** A data: URL (the 5.x page CSP allows data: images, not blob:). */
  image: string;
  bytes: number;
  ms: number;
}

export interface TestConnectionReply extends ConnectionVerdict {
  /** The URL that was tested, redacted. */
  url: string;
  /** A picture from the stream when it gave one. */
  image: string | null;
}

export interface FfmpegReply {
  path: string;
  version: string;
  /** The encoders that matter to HomeKit streaming, as found. */
  encoders: { name: string; found: boolean }[];
  hardware: string[];
}

const RELEVANT_ENCODERS = ['libx264', 'libopus', 'libfdk_aac', 'mjpeg'];
const SNAPSHOT_WIDTH = 640;
const SNAPSHOT_HEIGHT = 360;

export class UiRequests {
  private readonly inflight = new Map<string, Promise<SnapshotReply>>();
  private readonly controller = new AbortController();
  /** One read-only subscription for this server's lifetime, not a connection per poll. */
  private readonly watch: RetainedWatch;

  constructor(private readonly init: UiRequestsInit) {
    this.watch = new RetainedWatch({ firstAnswerMs: init.mqttTimeoutMs ?? 3000 });
  }

  /** The platform block as saved now (the page may hold unsaved edits; those come in requests). */
  private platformConfig(): { config: PlatformConfig; secrets: string[]; childBridge: string | undefined } {
    let raw: unknown;
    try {
      const file = JSON.parse(readFileSync(this.init.configPath, 'utf8')) as { platforms?: unknown };
      raw = Array.isArray(file.platforms) ? (file.platforms as unknown[]).find(isOurPlatform) : undefined;
    } catch {
      raw = undefined;
    }
    const { config } = resolveConfig(raw ?? {});
    return { config, secrets: secretsOf(config), childBridge: childBridgeUsername(raw) };
  }

  /**
   * The dashboard's data: with MQTT on, the retained health on the broker (what Home Assistant
   * sees too); when the broker cannot be read within the bound, or MQTT is off, the status file.
   */
  async status(): Promise<DashboardStatus> {
    const { config, secrets, childBridge } = this.platformConfig();
    const file = (): ReturnType<typeof readStatusFile> => readStatusFile(statusFilePath(this.init.storagePath, childBridge));
    let mqttError: string | null = null;
    if (config.mqtt) {
      const fromBroker = await this.statusFromMqtt(config);
      if (fromBroker.ok) {
        const { health, pluginRunning } = fromBroker;
        // The file is read only when a camera has nothing retained.
        const doc = config.cameras.some((c) => !health.get(c.id)) ? file() : null;
        const cameras = dashboardCameras(config.cameras, health, (id) => doc?.cameras[id]?.health ?? null);
        return sanitize({ pluginRunning, updatedAt: latestCheck(cameras), source: 'mqtt', mqttError: null, cameras }, secrets);
      }
      mqttError = fromBroker.message;
    } else {
      await this.watch.release();
    }
    const doc = file();
    const cameras = dashboardCameras(config.cameras, null, (id) => doc?.cameras[id]?.health ?? null);
    return sanitize({ pluginRunning: doc ? processAlive(doc.pid) : false, updatedAt: doc?.updatedAt ?? null, source: 'file', mqttError, cameras }, secrets);
  }

  private async statusFromMqtt(config: PlatformConfig): Promise<{ ok: true; health: Map<string, HealthPayload | null>; pluginRunning: boolean } | { ok: false; message: string }> {
    const mqtt = config.mqtt;
    if (!mqtt) return { ok: false, message: 'MQTT is off' };
    let tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } | undefined;
    try {
      // The plugin's own reading of the TLS options (paths to PEM files), so both connect alike.
      tls = mqtt.tls ? { rejectUnauthorized: mqtt.tls.rejectUnauthorized, ...pem('ca', mqtt.tls.ca), ...pem('cert', mqtt.tls.cert), ...pem('key', mqtt.tls.key) } : undefined;
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
    const topics = createTopics(mqtt.topicPrefix, mqtt.discoveryPrefix);
    const healthTopic = new Map(config.cameras.map((camera) => [camera.id, topics.health(camera.id)]));
    const read = await this.watch.read({
      url: mqtt.url,
      ...(mqtt.username ? { username: mqtt.username } : {}),
      ...(mqtt.password ? { password: mqtt.password } : {}),
      ...(tls ? { tls } : {}),
      topics: [topics.availability(), ...healthTopic.values()],
    });
    if (!read.ok) return { ok: false, message: `MQTT broker not readable: ${read.message}` };
    const health = new Map([...healthTopic].map(([id, topic]) => [id, parseHealth(read.messages.get(topic))]));
    const availability = read.messages.get(topics.availability())?.toString('utf8');
    return { ok: true, health, pluginRunning: availability === 'online' };
  }

  /** One picture of a saved camera; concurrent requests for the same camera share one FFmpeg. */
  snapshot(body: unknown): Promise<SnapshotReply> {
    const id = typeof (body as { id?: unknown } | null)?.id === 'string' ? (body as { id: string }).id : '';
    const { config, secrets } = this.platformConfig();
    const camera = config.cameras.find((c) => c.id === id);
    if (!camera) return Promise.reject(new UiRequestFailure(`no saved camera with id "${redactUrlsInText(id.slice(0, 64))}"`));
    const running = this.inflight.get(id);
    if (running) return running;
    const job = this.grab(config, camera)
      .then((shot) => {
        if (!shot.ok) throw new UiRequestFailure(`${camera.name}: ${shot.message}`);
        return { id, image: shot.image, bytes: shot.bytes, ms: shot.ms };
      })
      .catch((error: unknown) => {
        throw new UiRequestFailure(redact(error instanceof Error ? error.message : String(error), secrets));
      })
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, job);
    return job;
  }

  /** Tests a camera entry as it is in the form (saved or not): RTSP DESCRIBE, then one picture. */
  async testConnection(body: unknown): Promise<TestConnectionReply> {
    const entry = (body as { camera?: unknown } | null)?.camera;
    const saved = this.platformConfig().config;
    const { config, issues } = resolveConfig({ name: saved.name, ffmpegPath: saved.ffmpegPath, cameras: [entry] });
    const camera = config.cameras[0];
    const rawSource = typeof (entry as { source?: unknown } | null)?.source === 'string' ? (entry as { source: string }).source : '';
    const rawPassword = (entry as { password?: unknown } | null)?.password;
    const secrets = [...secretsOf(saved), ...secretsOf(config), ...secretsInUrl(rawSource), ...(typeof rawPassword === 'string' && rawPassword ? [rawPassword] : [])];
    if (!camera) {
      const problems = issues.filter((i) => i.severity === 'error').map((i) => `${i.field}: ${i.message}`);
      return sanitize({
        ok: false, headline: 'This camera entry is not complete yet', details: problems, advice: ['Fill in the fields named above, then test again.'],
        url: rawSource ? redactUrl(rawSource) : '', image: null,
      }, secrets);
    }
    const probe = await probeRtsp(camera.source, { timeoutMs: this.init.probeTimeoutMs, signal: this.controller.signal });
    let shot: Awaited<ReturnType<UiRequests['grab']>> | null = null;
    if (probe.ok) shot = await this.grab(config, camera);
    const outcome: SnapshotOutcome = shot ? (shot.ok ? { ok: true, bytes: shot.bytes, ms: shot.ms } : { ok: false, message: shot.message }) : null;
    return sanitize({ ...explainConnection(probe, outcome), url: redactUrl(camera.source), image: shot?.ok ? shot.image : null }, secrets);
  }

  async ffmpeg(): Promise<FfmpegReply> {
    const { config, secrets } = this.platformConfig();
    const choice = resolveFfmpeg(config.ffmpegPath);
    if (!choice.ok) throw new UiRequestFailure(redact(choice.message, secrets));
    try {
      const caps = await probeCapabilities(choice.path, this.controller.signal);
      return sanitize({
        path: caps.path,
        version: caps.version,
        encoders: RELEVANT_ENCODERS.map((name) => ({ name, found: caps.encoders.has(name) })),
        hardware: hardwareEncoders(caps),
      }, secrets);
    } catch (error) {
      throw new UiRequestFailure(redact(`FFmpeg at ${choice.path} does not run: ${error instanceof Error ? error.message : String(error)}`, secrets));
    }
  }

  /** Ends running probes, FFmpeg jobs and the MQTT subscription (the page closed); resolves once its socket is closed. */
  close(): Promise<void> {
    this.controller.abort('closed');
    return this.watch.close();
  }

  private async grab(config: PlatformConfig, camera: CameraConfig): Promise<{ ok: true; image: string; bytes: number; ms: number } | { ok: false; message: string }> {
    const choice = resolveFfmpeg(config.ffmpegPath);
    if (!choice.ok) return { ok: false, message: choice.message };
    const url = camera.snapshotSource ?? camera.source;
    const timeoutMs = this.init.snapshotTimeoutMs ?? 8000;
    const seconds = Math.max(1, Math.floor(timeoutMs / 1000) - 1);
    const input = /^rtsps?:/i.test(url) ? rtspInputArgs({ url, transport: camera.rtspTransport, timeoutSeconds: seconds }) : urlInputArgs(url, seconds);
    const started = performance.now();
    const { stdout, exit } = await runToBuffer({
      path: choice.path,
      args: snapshotArgs({ input, width: SNAPSHOT_WIDTH, height: SNAPSHOT_HEIGHT }),
      timeoutMs,
      signal: this.controller.signal,
    });
    const ms = performance.now() - started;
    if (exit.code === 0 && stdout.length > 4 && stdout[0] === 0xff && stdout[1] === 0xd8) {
      return { ok: true, image: `data:image/jpeg;base64,${stdout.toString('base64')}`, bytes: stdout.length, ms };
    }
    const detail = exit.stderr.slice(-1).join(' ');
    return { ok: false, message: `FFmpeg gave no picture (${exit.stopReason ?? `exit ${exit.code ?? exit.signal}`})${detail ? `: ${detail}` : ''}` };
  }
}

function secretsOf(config: PlatformConfig): string[] {
  return [
    ...config.cameras.flatMap((c) => [...secretsInUrl(c.source), ...c.substreams.flatMap((s) => secretsInUrl(s.source)), ...(c.snapshotSource ? secretsInUrl(c.snapshotSource) : [])]),
    ...(config.mqtt?.password ? [config.mqtt.password] : []),
    ...(config.mqtt ? secretsInUrl(config.mqtt.url) : []),
  ];
}

function redact(text: string, secrets: readonly string[]): string {
  return redactSecrets(redactUrlsInText(text), secrets);
}

/** Every string in a reply, redacted (data: URLs of pictures are left as they are). */
function sanitize<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.startsWith('data:image/') ? v : redact(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function pem(name: 'ca' | 'cert' | 'key', path: string | undefined): Record<string, string> {
  if (!path) return {};
  try {
    return { [name]: readFileSync(path, 'utf8') };
  } catch (error) {
    throw new Error(`cannot read the MQTT TLS ${name} file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

const STATES: readonly HealthPayload['state'][] = ['starting', 'online', 'degraded', 'offline'];

/**
 * A retained health payload as the plugin publishes it, or null. Anyone with access to the broker
 * can publish on that topic, so every field is checked: the page gets the plugin's shape or nothing.
 */
export function parseHealth(payload: Buffer | undefined): HealthPayload | null {
  if (!payload || payload.length === 0) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object') return null;
  const v = raw as Record<string, unknown>;
  const state = STATES.find((s) => s === v.state);
  if (!state) return null;
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  const video = v.video && typeof v.video === 'object' ? v.video as Record<string, unknown> : null;
  return {
    state,
    health: state,
    reason: str(v.reason) as HealthPayload['reason'],
    since: str(v.since) ?? '',
    checkedAt: str(v.checkedAt) ?? '',
    video: video && typeof video.codec === 'string' ? { codec: video.codec, width: num(video.width), height: num(video.height), fps: num(video.fps) } : null,
    viewers: num(v.viewers) ?? 0,
    fps: num(v.fps),
    bitrateKbps: num(v.bitrateKbps),
    restarts: num(v.restarts) ?? 0,
    lastError: str(v.lastError),
    timeToFirstFrameMs: num(v.timeToFirstFrameMs),
    decodeErrors: num(v.decodeErrors) ?? 0,
    decodeErrorsTotal: num(v.decodeErrorsTotal) ?? 0,
  };
}

/** The newest health check among the cameras (ISO 8601 strings sort by time), or null. */
function latestCheck(cameras: readonly DashboardCamera[]): string | null {
  let latest: string | null = null;
  for (const { health } of cameras) if (health?.checkedAt && (latest === null || health.checkedAt > latest)) latest = health.checkedAt;
  return latest;
}

function processAlive(pid: number | undefined): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive but another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
