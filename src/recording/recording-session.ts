/**
 * One HomeKit Secure Video recording, from dataSend.open to its end: an FFmpeg fed from the shared
 * feed (prebuffer first, then live) writing fragmented MP4, cut into packets for HAP-NodeJS. It owns
 * that FFmpeg and the feed attachment; `stop(reason)` is its one teardown and is idempotent.
 *
 * Fragments leave as FFmpeg finishes them: the prebuffer's at once, then one per keyframe interval,
 * which is real time because the input is the live feed. A recording ends when the hub closes it,
 * at the hard length cap (the last fragment is marked isLast), or with an error when FFmpeg or the
 * camera feed fails or no fragment arrives in time, so the hub is never left waiting.
 */
import type { Log } from '../logging.js';
import { decodeEvidenceTap } from '../ffmpeg/decode-evidence.js';
import { FfmpegProcess } from '../ffmpeg/ffmpeg-process.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { TeardownReason } from '../lifecycle/teardown-reason.js';
import type { FeedAttachment, SharedSource } from '../source/shared-source.js';
import { Fmp4Segmenter, type Fmp4Packet } from './fmp4-segmenter.js';

export type RecordingEnd =
  | 'hub-closed'
  | 'hub-acknowledged'
  | 'connection-closed'
  | 'max-length'
  | 'ffmpeg-failed'
  | 'feed-failed'
  | 'stalled'
  | 'shutdown';

const FAILURES: ReadonlySet<RecordingEnd> = new Set(['ffmpeg-failed', 'feed-failed', 'stalled']);

/** The recording FFmpeg's teardown reason, in the plugin's one closed set of them. */
const FFMPEG_TEARDOWN: Readonly<Record<RecordingEnd, TeardownReason>> = {
  'hub-closed': 'stopped-by-homekit',
  'hub-acknowledged': 'stopped-by-homekit',
  'connection-closed': 'cancelled',
  'max-length': 'timeout',
  'ffmpeg-failed': 'ffmpeg-exited',
  'feed-failed': 'feed-ended',
  'stalled': 'stalled',
  'shutdown': 'closed',
};

export interface RecordingSessionInit {
  id: string;
  ffmpegPath: string;
  args: readonly string[];
  source: SharedSource;
  log: Log;
  redact: (text: string) => string;
  /** How far back in the prebuffer the recording starts. */
  prebufferMs: number;
  /** No new fragment for this long means FFmpeg or the feed is stuck. */
  fragmentTimeoutMs: number;
  /** Hard cap: the fragment after this much recording is the last. */
  maxMs: number;
  /** Damage messages from the recording FFmpeg (a transcoded recording decodes the feed). */
  onDecodeEvidence?: (count: number) => void;
  now?: () => number;
}

export interface RecordingPacketOut {
  data: Buffer;
  isLast: boolean;
}

export class RecordingFailure extends Error {
  constructor(readonly end: RecordingEnd, message: string) {
    super(message);
  }
}

export class RecordingSession {
  readonly startedAt: number;
  fragments = 0;
  bytes = 0;
  private readonly ffmpeg: FfmpegProcess;
  private attachment: FeedAttachment | undefined;
  private readonly segmenter = new Fmp4Segmenter();
  private readonly queue: Fmp4Packet[] = [];
  private wake: (() => void) | undefined;
  private endReason: RecordingEnd | undefined;
  private failure: string | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly init: RecordingSessionInit) {
    this.startedAt = this.now();
    const evidence = decodeEvidenceTap((count) => init.onDecodeEvidence?.(count));
    this.ffmpeg = new FfmpegProcess({
      path: init.ffmpegPath,
      args: init.args,
      stdin: true,
      onStderrLine: (line) => {
        init.log.debug(`recording ${init.id}: ${init.redact(line)}`);
        evidence(line);
      },
    });
    this.ffmpeg.stdout?.on('data', (chunk: Buffer) => this.onOutput(chunk));
    fireAndForget(init.log, `recording ${init.id} exit`, this.ffmpeg.exited.then((exit) => {
      if (this.endReason) return;
      const detail = exit.stderr.slice(-3).map((l) => init.redact(l)).join(' | ');
      this.end('ffmpeg-failed', `recording FFmpeg exited (code ${exit.code ?? exit.signal ?? '?'})${detail ? `: ${detail}` : ''}`);
    }));
    const stdin = this.ffmpeg.stdin;
    if (stdin) {
      this.attachment = init.source.attach(`recording ${init.id}`, stdin, (message) => this.end('feed-failed', `camera feed ended: ${message}`), { historyMs: init.prebufferMs });
    }
  }

  private now(): number {
    return this.init.now?.() ?? performance.now();
  }

  get ended(): RecordingEnd | undefined {
    return this.endReason;
  }

  get pid(): number | undefined {
    return this.ffmpeg.pid;
  }

  /** The prebuffer's first keyframe arrived this long before the recording started (ms). */
  get prebufferedMs(): number {
    const from = this.attachment?.startedFrom?.keyframeAt;
    return from === undefined ? 0 : Math.max(0, this.startedAt - from);
  }

  private onOutput(chunk: Buffer): void {
    if (this.endReason) return;
    let packets: Fmp4Packet[];
    try {
      packets = this.segmenter.push(chunk);
    } catch (error) {
      this.end('ffmpeg-failed', `unreadable MP4 from FFmpeg: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (packets.length === 0) return;
    this.queue.push(...packets);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The init segment, then one packet per fragment. Throws RecordingFailure when the recording failed. */
  async *packets(): AsyncGenerator<RecordingPacketOut> {
    let lastPacketAt = this.now();
    let initSent = false;
    try {
      for (;;) {
        if (this.endReason) {
          if (FAILURES.has(this.endReason)) throw new RecordingFailure(this.endReason, this.failure ?? this.endReason);
          return;
        }
        const packet = this.queue.shift();
        if (packet) {
          lastPacketAt = this.now();
          if (packet.kind === 'init') {
            if (initSent) continue;
            initSent = true;
            yield { data: packet.data, isLast: false };
            continue;
          }
          this.fragments++;
          this.bytes += packet.data.length;
          const isLast = this.now() - this.startedAt >= this.init.maxMs;
          yield { data: packet.data, isLast };
          if (isLast) {
            this.end('max-length', 'reached the recording length cap');
            return;
          }
          continue;
        }
        const waitMs = lastPacketAt + this.init.fragmentTimeoutMs - this.now();
        if (waitMs <= 0) {
          this.end('stalled', `no recording fragment for ${this.init.fragmentTimeoutMs} ms`);
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      // generator.return() from HAP-NodeJS, a thrown failure or the cap: never leave FFmpeg behind.
      if (!this.endReason) this.end('hub-closed', 'recording stream closed');
    }
  }

  /** End the recording (idempotent); resolves when FFmpeg is gone. */
  stop(reason: RecordingEnd, message: string = reason): Promise<void> {
    this.end(reason, message);
    return this.stopped ?? Promise.resolve();
  }

  private end(reason: RecordingEnd, message: string): void {
    if (!this.endReason) {
      this.endReason = reason;
      if (FAILURES.has(reason)) this.failure = message;
      this.attachment?.release();
      this.attachment = undefined;
      this.stopped = this.ffmpeg.stop(FFMPEG_TEARDOWN[reason]).then(() => undefined);
    }
    this.wakeUp();
  }
}
