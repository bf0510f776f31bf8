/**
 * Answers HomeKit snapshot requests inside its time budget: a very recent JPEG is reused, concurrent
 * requests share one job, a live feed gives its newest frame without touching the camera, and a
 * camera that is down gets the last good picture (or a placeholder) at once instead of an FFmpeg
 * spawn on every poll. Snapshot FFmpegs take a slot of the platform's limiter (snapshot-limiter.ts);
 * a request that cannot start one in time is answered from cache.
 */
import type { Log } from '../logging.js';
import { rtspInputArgs, sharedFeedInputArgs, urlInputArgs } from '../ffmpeg/args/input-args.js';
import { snapshotArgs } from '../ffmpeg/args/snapshot-args.js';
import { decodeEvidenceTap } from '../ffmpeg/decode-evidence.js';
import { runToBuffer } from '../ffmpeg/run-to-buffer.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { SharedSource } from '../source/shared-source.js';
import { LogThrottle } from '../mqtt/log-throttle.js';
import { SnapshotCache } from './snapshot-cache.js';
import type { SnapshotSlot, SnapshotSlots } from './snapshot-limiter.js';
import { PlaceholderImages } from './placeholder-images.js';
import { DEFAULT_DECODE_MS_PER_FRAME, learnDecodeCost, planSnapshot, SNAPSHOT_OVERHEAD_MS } from './snapshot-plan.js';

export interface SnapshotServiceInit {
  ffmpegPath: string;
  source: SharedSource;
  /** A camera with substreams: the feed a snapshot of this size decodes (camera-streams.ts); default `source`. */
  pickSource?: (width: number, height: number) => SharedSource;
  /** A separate JPEG or RTSP URL for snapshots, when the camera has one. */
  snapshotUrl?: string;
  rtspTransport: 'tcp' | 'udp';
  /** `-stimeout` on FFmpeg 4.x (capabilities.ts). */
  rtspTimeoutOption?: '-timeout' | '-stimeout';
  log: Log;
  redact: (text: string) => string;
  /** True while health says the camera is down: answer from cache instead of trying. */
  cameraDown?: () => boolean;
  /** Damage messages from snapshot FFmpegs (they decode the feed; see decode-evidence.ts). */
  onDecodeEvidence?: (count: number) => void;
  /** Reuse a JPEG this young for repeated requests. */
  freshMs?: number;
  /** Total budget for a cold snapshot (HAP-NodeJS warns after 5 s). */
  budgetMs?: number;
  /** This camera's share of the platform-wide cap on snapshot FFmpegs; without it, uncapped. */
  slots?: SnapshotSlots;
  /** The platform's shared "no picture" JPEGs; without it, this camera renders its own. */
  placeholders?: PlaceholderImages;
  now?: () => number;
}

export interface Snapshot {
  jpeg: Buffer;
  /** live: a new picture; cached: a recent one reused; stale: last good while down; placeholder. */
  origin: 'live' | 'cached' | 'stale' | 'placeholder';
}

/** No snapshot FFmpeg could start in time: too many already run. */
class SnapshotBusyError extends Error {}

/** A refusal because of the cap is logged at most this often per camera. */
const BUSY_LOG_WINDOW_MS = 60_000;

export class SnapshotService {
  private readonly busyLog = new LogThrottle({ windowMs: BUSY_LOG_WINDOW_MS, maxKeys: 1 });
  private readonly cache = new SnapshotCache();
  private readonly inflight = new Map<string, Promise<Snapshot>>();
  private readonly placeholders: PlaceholderImages;
  private readonly controller = new AbortController();
  private decodeMsPerFrame = DEFAULT_DECODE_MS_PER_FRAME;

  constructor(private readonly init: SnapshotServiceInit) {
    this.placeholders = init.placeholders ?? new PlaceholderImages(init.ffmpegPath);
  }

  private now(): number {
    return this.init.now?.() ?? performance.now();
  }

  get(width: number, height: number): Promise<Snapshot> {
    // One cheap FFmpeg at the first request, so a fallback under load is answered at once.
    if (!this.placeholders.warm) fireAndForget(this.init.log, 'rendering the offline placeholder', this.placeholders.prepare());
    const fresh = this.cache.fresh(width, height, this.now(), this.init.freshMs ?? 1000);
    if (fresh) return Promise.resolve({ jpeg: fresh.jpeg, origin: 'cached' });
    const key = `${width}x${height}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const job = this.take(width, height).finally(() => this.inflight.delete(key));
    this.inflight.set(key, job);
    return job;
  }

  /** Cancels in-flight jobs (their FFmpeg children are killed). */
  close(): void {
    this.controller.abort('closed');
  }

  private async take(width: number, height: number): Promise<Snapshot> {
    if (this.init.cameraDown?.()) return this.fallback(width, height, 'the camera is offline');
    const started = this.now();
    try {
      const jpeg = this.init.snapshotUrl ? await this.fromUrl(this.init.snapshotUrl, width, height) : await this.fromFeed(width, height);
      this.cache.put({ jpeg, width, height, at: this.now() });
      this.init.log.debug(`snapshot ${width}x${height} in ${Math.round(this.now() - started)} ms`);
      return { jpeg, origin: 'live' };
    } catch (error) {
      if (error instanceof SnapshotBusyError) return this.busy(width, height, error.message);
      return this.fallback(width, height, error instanceof Error ? error.message : String(error));
    }
  }

  /** Served from cache because of the cap: the newest picture of this size, else any, else the placeholder. */
  private async busy(width: number, height: number, why: string): Promise<Snapshot> {
    const image = this.cache.fresh(width, height, this.now(), Infinity) ?? this.cache.lastGood();
    if (this.busyLog.allow('busy')) {
      this.init.log.info(`snapshot ${width}x${height} served from ${image ? 'the last picture' : 'a placeholder'}: ${why} (logged once a minute)`);
    }
    if (image) return { jpeg: image.jpeg, origin: 'stale' };
    return { jpeg: await this.placeholder(width, height), origin: 'placeholder' };
  }

  /** A snapshot FFmpeg slot, waited for only while the job could still finish by `deadline`. */
  private async slot(deadline: number): Promise<SnapshotSlot> {
    const slots = this.init.slots;
    if (!slots) return { release: () => undefined };
    // The cheapest job (the keyframe alone) must still fit after the wait.
    const slot = await slots.acquire(deadline - SNAPSHOT_OVERHEAD_MS - this.decodeMsPerFrame, this.controller.signal);
    if (slot) return slot;
    if (this.controller.signal.aborted) throw new Error('cancelled');
    throw new SnapshotBusyError(`no snapshot FFmpeg free in time (at most ${slots.limits.perCamera} per camera and ${slots.limits.total} in total)`);
  }

  /** One deadline for the whole chain: waiting for a keyframe and decoding share the budget. */
  private async fromFeed(width: number, height: number): Promise<Buffer> {
    const deadline = this.now() + (this.init.budgetMs ?? 5000);
    const source = this.init.pickSource?.(width, height) ?? this.init.source;
    const lease = source.hold();
    try {
      // Leave the encode at least its fixed cost after a keyframe that arrives late.
      const waited = await source.waitForGop(Math.max(1, deadline - this.now() - SNAPSHOT_OVERHEAD_MS), this.controller.signal);
      const slot = await this.slot(deadline);
      try {
        // Waiting for the slot may have taken a while: the GOP has grown meanwhile, take the newest.
        const gop = source.currentGop() ?? waited;
        const remaining = deadline - this.now();
        const plan = planSnapshot(gop.frames, remaining, this.decodeMsPerFrame);
        if (plan.why === 'keyframe only') this.init.log.debug(`snapshot from the keyframe only: ${gop.frames} frames would not decode in ${Math.round(remaining)} ms`);
        const started = this.now();
        const jpeg = await this.encode([...sharedFeedInputArgs()], width, height, gop.data, plan.skipFrames, Math.max(1, remaining));
        this.decodeMsPerFrame = learnDecodeCost(this.decodeMsPerFrame, this.now() - started, plan.skipFrames + 1);
        return jpeg;
      } finally {
        slot.release();
      }
    } finally {
      lease.release();
    }
  }

  private async fromUrl(url: string, width: number, height: number): Promise<Buffer> {
    const deadline = this.now() + (this.init.budgetMs ?? 5000);
    const input = /^rtsps?:/i.test(url) ? rtspInputArgs({ url, transport: this.init.rtspTransport, timeoutSeconds: 4, timeoutOption: this.init.rtspTimeoutOption }) : urlInputArgs(url, 4);
    const slot = await this.slot(deadline);
    try {
      return await this.encode(input, width, height, undefined, undefined, Math.max(1, deadline - this.now()));
    } finally {
      slot.release();
    }
  }

  private async encode(input: string[], width: number, height: number, stdinData?: Buffer, skipFrames?: number, timeoutMs = this.init.budgetMs ?? 5000): Promise<Buffer> {
    const { stdout, exit } = await runToBuffer({
      path: this.init.ffmpegPath,
      args: snapshotArgs({ input, width, height, skipFrames }),
      stdinData,
      timeoutMs,
      signal: this.controller.signal,
      onStderrLine: decodeEvidenceTap((count) => this.init.onDecodeEvidence?.(count)),
    });
    if (exit.code === 0 && isJpeg(stdout)) return stdout;
    const detail = exit.stderr.slice(-2).map((l) => this.init.redact(l)).join(' | ');
    throw new Error(`FFmpeg gave no picture (${exit.stopReason ?? `exit ${exit.code ?? exit.signal}`})${detail ? `: ${detail}` : ''}`);
  }

  private async fallback(width: number, height: number, why: string): Promise<Snapshot> {
    const last = this.cache.lastGood();
    this.init.log.debug(`snapshot ${width}x${height} from ${last ? 'the last good picture' : 'a placeholder'}: ${why}`);
    if (last) return { jpeg: last.jpeg, origin: 'stale' };
    return { jpeg: await this.placeholder(width, height), origin: 'placeholder' };
  }

  /** Not capped: rendered once for all cameras (a one-frame lavfi job) and kept. */
  private placeholder(width: number, height: number): Promise<Buffer> {
    return this.placeholders.get(width, height);
  }
}

function isJpeg(data: Buffer): boolean {
  return data.length > 4 && data[0] === 0xff && data[1] === 0xd8;
}
