/**
 * One upstream RTSP session per camera, shared by every viewer and snapshot (cheap cameras allow one
 * or two sessions and corrupt the stream when more connect). Reference-counted: the first hold starts
 * FFmpeg, the last release lets it linger, then stops it. A generation counter makes sure output or
 * exits from a stopped upstream never leak into the next one. An idle stop retires its FFmpeg at
 * once (cache and stream info cleared): a hold that arrives while it dies gets a fresh feed started
 * when it is gone, never the dying one's pictures or its exit (feed-lifecycle.ts).
 */
import type { Writable } from 'node:stream';
import type { Log } from '../logging.js';
import { sourceArgs, type SourceArgsOptions } from '../ffmpeg/args/source-args.js';
import { classifyFailure, failureHint, type FailureReason } from '../ffmpeg/failure-reason.js';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { FeedConsumer } from './feed-consumer.js';
import { planFeedExit } from './feed-lifecycle.js';
import { streamInfoSettled, type FeedStreamInfo } from './feed-stream-info.js';
import { GopCache, type GopSnapshot } from './gop-cache.js';
import { MpegTsIndexer } from './mpegts-indexer.js';
import { PrebufferRing } from './prebuffer-ring.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { TeardownReason } from '../lifecycle/teardown-reason.js';
import type { LoginAttempt, LoginGate } from '../health/login-guard.js';

export type SourceEvent =
  | { type: 'starting'; generation: number }
  | { type: 'first-keyframe'; ms: number }
  | { type: 'stats'; fps: number; bitrateKbps: number; frames: number }
  | { type: 'stalled'; silentMs: number }
  | { type: 'ended'; failed: boolean; reason: FeedEndReason; message: string };

/** Why the camera feed ended: a classified failure, or a stop we asked for. */
export type FeedEndReason = FailureReason | Extract<TeardownReason, 'idle' | 'closed'>;

export interface SharedSourceInit {
  ffmpegPath: string;
  args: SourceArgsOptions;
  lingerMs: number;
  log: Log;
  redact: (text: string) => string;
  onEvent?: (event: SourceEvent) => void;
  /** No bytes for this long while running means the camera went silent. */
  stallMs?: number;
  backoff?: BackoffPolicy;
  /** Lockout-safe logins, shared with the health probe: each FFmpeg start is one login. */
  loginGate?: LoginGate;
  now?: () => number;
}

export class SourceError extends Error {
  constructor(readonly reason: FailureReason | Extract<TeardownReason, 'closed' | 'timeout'>, message: string) {
    super(message);
  }
}

export interface SourceLease {
  release(): void;
}

export interface FeedAttachment extends SourceLease {
  /** The cached GOP the consumer started from, if the source was already live. */
  startedFrom: GopSnapshot | undefined;
  consumer: FeedConsumer;
}

export interface AttachOptions {
  /** Start this far back in the kept history (see keepHistory) instead of at the newest GOP. */
  historyMs?: number;
}

interface Waiter {
  resolve: (gop: GopSnapshot) => void;
  reject: (error: SourceError) => void;
}

const STATS_INTERVAL_MS = 2000;

export class SharedSource {
  private holds = 0;
  /** The FFmpeg that feeds consumers. */
  private upstream: FfmpegProcess | undefined;
  /** An FFmpeg an idle stop (or close) was issued to: it feeds nobody; the next start waits for its exit. */
  private retiring: FfmpegProcess | undefined;
  private generation = 0;
  private indexer = new MpegTsIndexer();
  private readonly cache = new GopCache();
  /** Seconds of history for recordings; present only while some hold asks for it. */
  private history: PrebufferRing | undefined;
  private readonly historyHolds = new Map<object, number>();
  private readonly consumers = new Map<FeedConsumer, (message: string) => void>();
  private readonly waiters = new Set<Waiter>();
  private lingerTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;
  private startedAt = 0;
  private lastDataAt = 0;
  private sawKeyframe = false;
  private windowFrames = 0;
  private windowBytes = 0;
  private windowStart = 0;
  private totalFrames = 0;
  private login: LoginAttempt | undefined;
  /**
   * The camera's audio codec as its SDP names it (e.g. `aac`, `pcm_alaw`), once known: AAC is then
   * copied into the feed instead of re-encoded. Read at every start.
   */
  audioCodecHint: string | undefined;
  /** How many upstream sessions this source opened: the camera's view of us. */
  sessionsOpened = 0;

  constructor(private readonly init: SharedSourceInit) {}

  private now(): number {
    return this.init.now?.() ?? performance.now();
  }

  get running(): boolean {
    return this.upstream !== undefined;
  }

  /** A stop of the previous feed is in flight; a hold now starts the next feed once it is gone. */
  get stopping(): boolean {
    return this.retiring !== undefined;
  }

  get live(): boolean {
    return this.cache.hasKeyframe;
  }

  get holders(): number {
    return this.holds;
  }

  /** Keep the upstream running until released (idempotent release). */
  hold(): SourceLease {
    if (this.closed) return { release: () => undefined };
    this.holds++;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.ensureRunning();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.holds--;
        if (this.holds === 0) this.scheduleLinger();
      },
    };
  }

  /**
   * Feed a writable (a viewer's FFmpeg stdin) from the newest keyframe on. `onEnd` is called once if
   * the upstream fails while attached, so the viewer can end its session and tell HomeKit.
   */
  attach(name: string, sink: Writable, onEnd: (message: string) => void, options: AttachOptions = {}): FeedAttachment {
    const lease = this.hold();
    const fromHistory = options.historyMs !== undefined ? this.history?.from(options.historyMs, this.now()) : undefined;
    const startedFrom = fromHistory ?? this.cache.snapshot();
    // A prebuffer burst is written at once: the slow-reader bound must not count it as falling behind.
    const bound = Math.max(4 * 1024 * 1024, 2 * (startedFrom?.data.length ?? 0));
    const consumer = new FeedConsumer(name, sink, () => this.cache.headers(), bound);
    consumer.begin(startedFrom?.data);
    this.consumers.set(consumer, onEnd);
    return {
      consumer,
      startedFrom,
      release: () => {
        this.consumers.delete(consumer);
        lease.release();
      },
    };
  }

  /**
   * Keep the source running and remember at least `ms` of it (whole GOPs), for recordings that start
   * before their trigger. Release to forget it again.
   */
  keepHistory(ms: number): SourceLease {
    const lease = this.hold();
    const key = {};
    this.historyHolds.set(key, ms);
    const longest = (): number => Math.max(0, ...this.historyHolds.values());
    if (this.history) this.history.setKeepMs(longest());
    else this.history = new PrebufferRing(longest());
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.historyHolds.delete(key);
        if (this.historyHolds.size === 0) this.history = undefined;
        else this.history?.setKeepMs(longest());
        lease.release();
      },
    };
  }

  /** How much history is kept now, and the longest keyframe interval in it. */
  historyInfo(): { spanMs: number; gopMs: number | undefined } | undefined {
    return this.history ? { spanMs: this.history.spanMs(this.now()), gopMs: this.history.gopMs() } : undefined;
  }

  /** Where a decoder that needs the current state of the feed would start (undefined when cold). */
  currentGop(): GopSnapshot | undefined {
    return this.cache.snapshot();
  }

  /** Whether the feed carries an audio track (known once its PMT has been seen). */
  get hasAudio(): boolean {
    return this.indexer.audioPid !== undefined;
  }

  /** What the running feed has shown about its streams (PMT, SPS, slice types); reset on every start. */
  get streamInfo(): FeedStreamInfo {
    return this.indexer.info;
  }

  /**
   * Resolves once the feed has shown enough to decide copy vs transcode (for H.264 whose SPS leaves
   * reordering open: a few pictures' slice headers), or after `maxWaitMs`; never rejects.
   */
  async waitForStreamInfo(maxWaitMs: number, signal?: AbortSignal): Promise<FeedStreamInfo> {
    const until = this.now() + maxWaitMs;
    // A retiring feed counts as coming: a hold taken while it dies is fed by the next one.
    while (!streamInfoSettled(this.indexer.info) && this.now() < until && !signal?.aborted && (this.upstream || this.retiring)) {
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    return this.indexer.info;
  }

  /** The newest GOP, waiting for the first keyframe when the source is cold. The caller holds the source. */
  waitForGop(timeoutMs: number, signal?: AbortSignal): Promise<GopSnapshot> {
    const cached = this.cache.snapshot();
    if (cached) return Promise.resolve(cached);
    if (this.closed) return Promise.reject(new SourceError('closed', 'the camera is shutting down'));
    return new Promise<GopSnapshot>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        resolve: (gop) => { cleanup(); resolve(gop); },
        reject: (error) => { cleanup(); reject(error); },
      };
      const timer = setTimeout(() => waiter.reject(new SourceError('timeout', `no keyframe from the camera within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => waiter.reject(new SourceError('closed', 'cancelled'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Stop for good: no restart, every consumer told, resolves when FFmpeg is gone. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lingerTimer);
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.stopUpstream('closed');
  }

  private ensureRunning(): void {
    if (this.closed || this.upstream || this.retiring || this.restartTimer) return;
    this.start();
  }

  private start(): void {
    const ticket = this.init.loginGate?.begin();
    if (ticket && !ticket.ok) {
      // The camera rejected the password before: wait for the gate instead of spending a login.
      this.init.log.debug(`camera feed waits ${Math.round(ticket.retryInMs / 1000)} s before the next login`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.closed && this.holds > 0) this.start();
      }, ticket.retryInMs);
      this.restartTimer.unref();
      return;
    }
    this.login = ticket?.attempt;
    const generation = ++this.generation;
    this.indexer = new MpegTsIndexer();
    this.cache.clear();
    this.history?.clear();
    this.sawKeyframe = false;
    this.startedAt = this.now();
    this.lastDataAt = this.startedAt;
    this.windowStart = this.startedAt;
    this.windowFrames = 0;
    this.windowBytes = 0;
    this.sessionsOpened++;
    this.emit({ type: 'starting', generation });
    const proc = new FfmpegProcess({
      path: this.init.ffmpegPath,
      args: sourceArgs({ ...this.init.args, sourceAudioCodec: this.init.args.sourceAudioCodec ?? this.audioCodecHint }),
      onStderrLine: (line) => this.init.log.debug(`camera feed: ${this.init.redact(line)}`),
    });
    this.upstream = proc;
    proc.stdout?.on('data', (chunk: Buffer) => {
      // Not after it was retired either: what a dying FFmpeg still flushes belongs to no consumer.
      if (generation === this.generation && this.upstream === proc) this.onData(chunk);
    });
    this.watchdog = setInterval(() => this.checkFlow(generation), 1000);
    this.watchdog.unref();
    fireAndForget(this.init.log, 'camera feed exit handling', proc.exited.then((exit) => this.onExit(proc, generation, exit)));
  }

  private onExit(proc: FfmpegProcess, generation: number, exit: FfmpegExit): void {
    const retired = this.retiring === proc;
    if (retired) {
      this.retiring = undefined;
    } else {
      if (generation !== this.generation || this.upstream !== proc) return;
      clearInterval(this.watchdog);
      this.upstream = undefined;
      this.cache.clear();
      this.history?.clear();
    }
    const expected = exit.stopReason === 'idle' || exit.stopReason === 'closed';
    const reason = expected ? (exit.stopReason as 'idle' | 'closed') : exit.stopReason === 'stalled' ? 'stalled' : classifyFailure(exit.stderr);
    this.login?.end(reason === 'unauthorized' ? 'rejected' : 'unknown');
    this.login = undefined;
    const detail = exit.stderr.slice(-3).map((l) => this.init.redact(l)).join(' | ');
    const hint = expected ? undefined : failureHint(reason as FailureReason);
    const message = expected ? `stopped (${reason})` : `camera feed ended (${reason})${hint ? `; ${hint}` : ''}${detail ? `: ${detail}` : ''}`;
    this.emit({ type: 'ended', failed: !expected, reason, message });
    const plan = planFeedExit({ retired, failed: !expected, closed: this.closed, holds: this.holds });
    if (plan.endAttached) {
      for (const waiter of [...this.waiters]) waiter.reject(new SourceError(expected ? 'closed' : reason as FailureReason, message));
      for (const [consumer, onEnd] of [...this.consumers]) {
        this.consumers.delete(consumer);
        onEnd(message);
      }
    }
    if (plan.next === 'start') this.start();
    else if (plan.next === 'backoff') this.scheduleRestart();
  }

  private onData(chunk: Buffer): void {
    const now = this.now();
    this.lastDataAt = now;
    const indexed = this.indexer.push(chunk);
    this.cache.add(indexed, now);
    this.history?.add(indexed, now);
    this.windowBytes += indexed.data.length;
    for (const kind of indexed.kinds) if (kind === 'frame-start' || kind === 'keyframe-start') this.windowFrames++;
    if (!this.sawKeyframe && this.cache.hasKeyframe) {
      this.sawKeyframe = true;
      this.login?.end('accepted');
      this.emit({ type: 'first-keyframe', ms: Math.round(now - this.startedAt) });
    }
    for (const consumer of this.consumers.keys()) consumer.push(indexed);
    if (this.waiters.size) {
      const gop = this.cache.snapshot();
      if (gop) for (const waiter of [...this.waiters]) waiter.resolve(gop);
    }
    if (now - this.windowStart >= STATS_INTERVAL_MS) this.flushStats(now);
  }

  private flushStats(now: number): void {
    const seconds = (now - this.windowStart) / 1000;
    if (seconds <= 0) return;
    this.totalFrames += this.windowFrames;
    this.emit({ type: 'stats', fps: Math.round((this.windowFrames / seconds) * 10) / 10, bitrateKbps: Math.round((this.windowBytes * 8) / seconds / 1000), frames: this.totalFrames });
    this.windowStart = now;
    this.windowFrames = 0;
    this.windowBytes = 0;
    // A feed that has delivered for a while is healthy again: the next failure starts the backoff afresh.
    if (now - this.startedAt > 30_000) this.attempt = 0;
  }

  private checkFlow(generation: number): void {
    if (generation !== this.generation || !this.upstream) return;
    const silent = this.now() - this.lastDataAt;
    // Before the first keyframe FFmpeg is still connecting; its own -timeout covers that phase.
    const limit = this.sawKeyframe ? (this.init.stallMs ?? 5000) : 15_000;
    if (silent > limit) {
      this.emit({ type: 'stalled', silentMs: Math.round(silent) });
      fireAndForget(this.init.log, 'stopping the stalled camera feed', this.upstream.stop('stalled'));
    }
  }

  private scheduleRestart(): void {
    const delay = backoffDelay(this.attempt++, this.init.backoff ?? DEFAULT_BACKOFF, Math.random());
    this.init.log.debug(`camera feed restarts in ${delay} ms (attempt ${this.attempt})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closed && this.holds > 0) this.start();
    }, delay);
    this.restartTimer.unref();
  }

  private scheduleLinger(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.init.lingerMs <= 0) {
      fireAndForget(this.init.log, 'idle stop of the camera feed', this.stopUpstream('idle'));
      return;
    }
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.holds === 0) fireAndForget(this.init.log, 'idle stop of the camera feed', this.stopUpstream('idle'));
    }, this.init.lingerMs);
    this.lingerTimer.unref();
  }

  private async stopUpstream(reason: Extract<TeardownReason, 'idle' | 'closed'>): Promise<void> {
    const proc = this.upstream;
    if (!proc) {
      await this.retiring?.exited;
      return;
    }
    this.retire(proc);
    this.init.log.debug(`camera feed stopping (${reason})`);
    await proc.stop(reason);
  }

  /**
   * From the moment its stop is issued the FFmpeg feeds nobody: a hold that arrives now must neither
   * start from its GOP nor be ended by its exit, so its cache and stream info go with it.
   */
  private retire(proc: FfmpegProcess): void {
    this.upstream = undefined;
    this.retiring = proc;
    clearInterval(this.watchdog);
    this.indexer = new MpegTsIndexer();
    this.cache.clear();
    this.history?.clear();
  }

  private emit(event: SourceEvent): void {
    try {
      this.init.onEvent?.(event);
    } catch (error) {
      this.init.log.error(`health listener failed: ${String(error)}`);
    }
  }
}
