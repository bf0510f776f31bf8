import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { isRunning, killOnExit, terminate } from './processes.js';

/** GStreamer's Python bindings live in the system Python, not pyenv's. */
export const CAMERA_PYTHON = '/usr/bin/python3';
export const CAMERA_SCRIPT = fileURLToPath(new URL('../fixtures/rtsp-camera.py', import.meta.url));

export type RtspAuthMethod = 'basic' | 'digest';

export interface RtspCameraOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe every fps * gopSeconds frames. */
  gopSeconds?: number;
  /** When both user and password are set, every DESCRIBE/SETUP/PLAY needs them. */
  user?: string;
  password?: string;
  /** Challenges offered when auth is on (default both; FFmpeg then picks Digest). */
  authMethods?: RtspAuthMethod[];
  /** Add a live audio track: PCMA (G.711 A-law, pt 8) unless `audioCodec` says otherwise. */
  audio?: boolean;
  /** x264 bitrate in kbit/s. */
  bitrate?: number;
  path?: string;
  /** Fixed port; default lets the camera bind port 0 and report it (race-free). */
  port?: number;
  /** videotestsrc pattern (default 'ball'). */
  pattern?: string;
  /**
   * Write the wall clock (Date.now()/time.time() ms, low 32 bits) into every frame before encoding:
   * a band of 32 black/white cells over the top tenth of the picture (see the fixture's doc).
   */
  stamp?: boolean;
  /** Bound on reaching "ready" (default 15 s). */
  startTimeoutMs?: number;
  /**
   * Its own process group (the demo): a terminal's Ctrl-C must not reach it before Homebridge
   * stops. It still exits with its parent (EOF on its stdin).
   */
  detached?: boolean;
  // ---- connection options (conn helper) ----
  /** Refuse RTP over TCP: SETUP with an interleaved transport gets 461 Unsupported Transport. */
  udpOnly?: boolean;
  /** Serve RTSPS with a self-signed certificate made by openssl for this camera (URLs become rtsps://). */
  tls?: boolean;
  // ---- codec variants (feed helper): what real cameras send ----
  /** 'h265': x265 Main profile over rtph265pay (default 'h264'). */
  codec?: 'h264' | 'h265';
  /** H.264 profile (default 'baseline'). */
  profile?: 'baseline' | 'main' | 'high';
  /** H.264 B-frames between references (frame reordering); needs profile main or high. */
  bframes?: number;
  /** Codec of the `audio` track: G.711 A-law (default), mu-law, or AAC (mpeg4-generic, 16 kHz mono). */
  audioCodec?: 'pcma' | 'pcmu' | 'aac';
  // ---- end codec variants ----
  // ---- substream (streams helper) ----
  /** A second stream from its own encoder on a second mount (a camera's substream), same login. */
  sub?: SubstreamOptions;
  // ---- end substream ----
}

export interface SubstreamOptions {
  /** Default '/sub'. */
  path?: string;
  /** Default 640x360. */
  width?: number;
  height?: number;
  /** Default 'h264' (Baseline). */
  codec?: 'h264' | 'h265';
  /** Default: the main stream's fps. */
  fps?: number;
  /** kbit/s, default 300. */
  bitrate?: number;
}

/** One JSON line printed by the camera. */
export interface CameraEvent {
  readonly event: string;
  /** Camera's monotonic clock, seconds. */
  readonly t: number;
  /** performance.now() in this process when the line arrived, ms. */
  readonly receivedAt: number;
  /** Which process run (1 = first start, 2 = after the first restart, ...). */
  readonly run: number;
  readonly [key: string]: unknown;
}

export type RtspMethod = 'OPTIONS' | 'DESCRIBE' | 'SETUP' | 'PLAY' | 'PAUSE' | 'TEARDOWN' | 'GET_PARAMETER' | 'SET_PARAMETER';

/**
 * A real RTSP camera (GstRtspServer + continuously running x264 encoder) in a
 * child process on 127.0.0.1. See test/fixtures/rtsp-camera.py for events.
 */
export class RtspCamera {
  readonly events: CameraEvent[] = [];
  readonly options: Readonly<RtspCameraOptions>;
  readonly path: string;
  port = 0;
  /** Time from spawn to "ready" for the latest run, ms. */
  startupMs = 0;
  private child: ChildProcess | undefined;
  private runs = 0;
  private stderrText = '';
  private readonly listeners = new Set<(e: CameraEvent) => void>();
  /** Temp dir with the self-signed certificate (tls), removed by stop()/kill(). */
  private tlsDir: string | undefined;

  private constructor(options: RtspCameraOptions) {
    this.options = { ...options };
    this.path = normalisePath(options.path ?? '/stream');
  }

  static async start(options: RtspCameraOptions = {}): Promise<RtspCamera> {
    const camera = new RtspCamera(options);
    await camera.launch(options.port ?? 0);
    return camera;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && isRunning(this.child);
  }

  /** Camera stderr of the current run (diagnostics, GStreamer warnings). */
  get stderr(): string {
    return this.stderrText;
  }

  get hasAuth(): boolean {
    return this.options.user !== undefined && this.options.password !== undefined;
  }

  /** The URL a correctly configured client uses (credentials included when auth is on). */
  get url(): string {
    const { user, password } = this.options;
    return user !== undefined && password !== undefined ? this.urlWithCredentials(user, password) : this.urlWithoutCredentials;
  }

  /** rtsps when the camera serves TLS. */
  get scheme(): 'rtsp' | 'rtsps' {
    return this.options.tls === true ? 'rtsps' : 'rtsp';
  }

  get urlWithoutCredentials(): string {
    return `${this.scheme}://127.0.0.1:${this.port}${this.path}`;
  }

  /** The substream's URL (credentials included when auth is on); throws without `sub`. */
  get subUrl(): string {
    if (!this.options.sub) throw new Error('this camera has no substream');
    // Every URL form ends with the main path.
    return this.url.slice(0, -this.path.length) + this.subPath;
  }

  get subPath(): string {
    return normalisePath(this.options.sub?.path ?? '/sub');
  }

  urlWithCredentials(user: string, password: string): string {
    return `${this.scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}${this.path}`;
  }

  /** Current length of `events`; pass to the counters to look only at later events. */
  mark(): number {
    return this.events.length;
  }

  eventsSince(mark = 0, name?: string): CameraEvent[] {
    const list = this.events.slice(mark);
    return name === undefined ? list : list.filter((e) => e.event === name);
  }

  count(name: string, filter?: (e: CameraEvent) => boolean, since = 0): number {
    return this.eventsSince(since, name).filter((e) => filter === undefined || filter(e)).length;
  }

  /** TCP connections accepted by the server. */
  connections(since = 0): number {
    return this.count('client-connected', undefined, since);
  }

  /** Successfully handled requests, optionally of one method. */
  requests(method?: RtspMethod, since = 0): number {
    return this.count('request', (e) => method === undefined || e['method'] === method, since);
  }

  /**
   * RTSP sessions created (one per client that got through SETUP). With `path` (e.g. `camera.subPath`),
   * only sessions whose SETUP was for that mount.
   */
  sessionsOpened(since = 0, path?: string): number {
    if (path === undefined) return this.count('session', undefined, since);
    return this.sessionsOn(path, since).size;
  }

  /**
   * Sessions that started playing this mount (PLAY seen): streams actually pulled, not the health
   * probe's SETUP + TEARDOWN transport check.
   */
  sessionsPlayed(path: string, since = 0): number {
    const mount = normalisePath(path);
    const ids = new Set<string>();
    for (const e of this.eventsSince(since, 'request')) {
      const p = e['path'];
      if (e['method'] === 'PLAY' && typeof p === 'string' && typeof e['session'] === 'string' && (p === mount || p.startsWith(`${mount}/`))) ids.add(e['session']);
    }
    return ids.size;
  }

  /** Session ids whose SETUP named a track of this mount. */
  private sessionsOn(path: string, since = 0): Set<string> {
    const mount = normalisePath(path);
    const ids = new Set<string>();
    for (const e of this.eventsSince(since, 'request')) {
      const p = e['path'];
      if (e['method'] === 'SETUP' && typeof p === 'string' && typeof e['session'] === 'string' && (p === mount || p.startsWith(`${mount}/`))) ids.add(e['session']);
    }
    return ids;
  }

  /** Sessions of one mount still open (SETUP seen, no session-removed yet) in the current run. */
  activeSessionsOn(path: string): number {
    const firstOfRun = this.events.findIndex((e) => e.run === this.runs);
    const since = firstOfRun < 0 ? this.events.length : firstOfRun;
    const removed = new Set(this.eventsSince(since, 'session-removed').map((e) => String(e['id'])));
    return [...this.sessionsOn(path, since)].filter((id) => !removed.has(id)).length;
  }

  /** Sessions currently open, as last reported by the camera. */
  activeSessions(): number {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i];
      if (e !== undefined && (e.event === 'session' || e.event === 'session-removed') && e.run === this.runs) {
        return Number(e['active']);
      }
    }
    return 0;
  }

  /**
   * Requests refused for credentials (answered 401). FFmpeg's first attempt
   * carries no credentials and is always challenged; `withCredentials: true`
   * counts only attempts that sent wrong credentials.
   */
  authFailures(options: { withCredentials?: boolean; since?: number } = {}): number {
    const { withCredentials, since = 0 } = options;
    return this.count('auth-failed', (e) => withCredentials === undefined || e['credentials'] === withCredentials, since);
  }

  /** Responses with status >= 400 (401, 404, 454, ...). */
  errorResponses(status?: number, since = 0): number {
    return this.count('error-response', (e) => status === undefined || e['status'] === status, since);
  }

  /** Keyframes the encoder produced (n, frame), useful to prove it never restarted. */
  keyframes(since = 0): CameraEvent[] {
    return this.eventsSince(since, 'keyframe');
  }

  /** Resolve with the first event (at index >= since) matching `pred`. */
  waitForEvent(pred: (e: CameraEvent) => boolean, timeoutMs = 10_000, since = 0, what = 'camera event'): Promise<CameraEvent> {
    const found = this.events.slice(since).find(pred);
    if (found !== undefined) return Promise.resolve(found);
    const child = this.child;
    return new Promise<CameraEvent>((resolve, reject) => {
      const check = (e: CameraEvent): void => {
        if (pred(e)) finish(undefined, e);
      };
      const onExit = (): void => finish(new Error(`camera exited while waiting for ${what}`));
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const finish = (err: Error | undefined, e?: CameraEvent): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        child?.off('exit', onExit);
        if (err !== undefined) reject(err);
        else if (e !== undefined) resolve(e);
      };
      this.listeners.add(check);
      child?.once('exit', onExit);
    });
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child !== undefined) await terminate(this.child, 'SIGTERM', graceMs);
    this.removeTlsDir();
  }

  /** SIGKILL (a camera losing power); resolves once the process has exited. */
  async kill(): Promise<void> {
    if (this.child !== undefined) await terminate(this.child, 'SIGKILL', 5000);
  }

  private removeTlsDir(): void {
    if (this.tlsDir !== undefined) rmSync(this.tlsDir, { recursive: true, force: true });
    this.tlsDir = undefined;
  }

  /** A fresh self-signed certificate for 127.0.0.1 (kept across restarts of this camera). */
  private tlsArgs(): string[] {
    if (this.tlsDir === undefined) {
      const dir = mkdtempSync(join(tmpdir(), 'cctv-rtsps-'));
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], { stdio: 'ignore', timeout: 15_000 });
      this.tlsDir = dir;
    }
    return ['--tls-cert', join(this.tlsDir, 'cert.pem'), '--tls-key', join(this.tlsDir, 'key.pem')];
  }

  /** Camera reboot: stop, then start again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch(this.port);
  }

  /** Start again on the same port after stop()/kill() (a camera coming back). */
  async startAgain(): Promise<void> {
    if (this.running) throw new Error('camera is already running');
    await this.launch(this.port);
  }

  private buildArgs(port: number): string[] {
    const o = this.options;
    const args = [CAMERA_SCRIPT, '--port', String(port), '--path', this.path];
    const numeric: [string, number | undefined][] = [
      ['--width', o.width],
      ['--height', o.height],
      ['--fps', o.fps],
      ['--gop-seconds', o.gopSeconds],
      ['--bitrate', o.bitrate],
    ];
    for (const [flag, value] of numeric) if (value !== undefined) args.push(flag, String(value));
    if (o.user !== undefined && o.password !== undefined) {
      args.push('--user', o.user, '--password', o.password);
      if (o.authMethods !== undefined) args.push('--auth-methods', o.authMethods.join(','));
    }
    if (o.audio === true) args.push('--audio');
    if (o.pattern !== undefined) args.push('--pattern', o.pattern);
    if (o.stamp === true) args.push('--stamp');
    // connection options (conn helper)
    if (o.udpOnly === true) args.push('--udp-only');
    if (o.tls === true) args.push(...this.tlsArgs());
    // codec variants
    if (o.codec !== undefined) args.push('--codec', o.codec);
    if (o.profile !== undefined) args.push('--profile', o.profile);
    if (o.bframes !== undefined) args.push('--bframes', String(o.bframes));
    if (o.audioCodec !== undefined) args.push('--audio-codec', o.audioCodec);
    // substream
    if (o.sub !== undefined) {
      args.push('--sub-path', this.subPath);
      const sub: [string, number | string | undefined][] = [
        ['--sub-width', o.sub.width], ['--sub-height', o.sub.height], ['--sub-codec', o.sub.codec], ['--sub-fps', o.sub.fps], ['--sub-bitrate', o.sub.bitrate],
      ];
      for (const [flag, value] of sub) if (value !== undefined) args.push(flag, String(value));
    }
    return args;
  }

  private async launch(port: number): Promise<void> {
    const run = ++this.runs;
    this.stderrText = '';
    // stdin is a pipe we never close: its EOF tells the camera we died.
    const child = spawn(CAMERA_PYTHON, this.buildArgs(port), { stdio: ['pipe', 'pipe', 'pipe'], detached: this.options.detached ?? false });
    this.child = child;
    killOnExit(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-64_000);
    });
    if (child.stdout === null) throw new Error('camera stdout is not a pipe');
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => this.onLine(line, run));
    // Do not keep the test process alive for a forgotten camera; the exit
    // hook kills it. Every wait on the camera has its own timer.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) unrefStream(s);

    const timeoutMs = this.options.startTimeoutMs ?? 15_000;
    const started = performance.now();
    try {
      const ready = await new Promise<CameraEvent>((resolve, reject) => {
        const onSpawnError = (err: Error): void => finish(new Error(`cannot run ${CAMERA_PYTHON}: ${err.message}`));
        const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
          finish(new Error(`camera exited (code ${code}, signal ${signal}) before ready`));
        const check = (e: CameraEvent): void => {
          if (e.event === 'ready' && e.run === run) finish(undefined, e);
          else if (e.event === 'error' && e.run === run) finish(new Error(`camera error: ${String(e['message'])}`));
        };
        const timer = setTimeout(() => finish(new Error(`camera not ready within ${timeoutMs} ms`)), timeoutMs);
        const finish = (err: Error | undefined, e?: CameraEvent): void => {
          clearTimeout(timer);
          this.listeners.delete(check);
          child.off('error', onSpawnError);
          child.off('exit', onExit);
          if (err !== undefined) reject(err);
          else if (e !== undefined) resolve(e);
        };
        this.listeners.add(check);
        child.once('error', onSpawnError);
        child.once('exit', onExit);
      });
      this.port = Number(ready['port']);
      this.startupMs = performance.now() - started;
    } catch (err) {
      await terminate(child, 'SIGKILL', 2000).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n--- camera stderr ---\n${this.stderrText.trim()}`, { cause: err });
    }
  }

  private onLine(line: string, run: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderrText += `[non-JSON stdout] ${line}\n`;
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || !('event' in parsed)) return;
    const event = { ...(parsed as Record<string, unknown>), receivedAt: performance.now(), run } as CameraEvent;
    this.events.push(event);
    for (const listener of [...this.listeners]) listener(event);
  }
}

function normalisePath(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

function unrefStream(stream: unknown): void {
  const s = stream as { unref?: () => void } | null;
  s?.unref?.();
}
