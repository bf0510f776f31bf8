/**
 * One viewer's stream, from SetupEndpoints to its end. Owns its RTCP ports, its FFmpeg and its feed
 * attachment; everything is torn down through `end()`, exactly once. The input is the camera's
 * shared feed, so the camera sees one connection however many viewers there are.
 */
import type { Log } from '../logging.js';
import { sharedFeedInputArgs } from '../ffmpeg/args/input-args.js';
import { streamArgs, type AudioOutput, type VideoOutput } from '../ffmpeg/args/stream-args.js';
import type { AudioRequest, SessionTarget, VideoRequest } from './hap-request-types.js';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import type { FfmpegProgress } from '../ffmpeg/progress-parser.js';
import type { FeedAttachment, SharedSource } from '../source/shared-source.js';
import { RtcpReceiver } from './rtcp-receiver.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import { describeTeardown, type SessionFailure, type TeardownReason } from '../lifecycle/teardown-reason.js';

export interface StreamSessionInit {
  id: string;
  ffmpegPath: string;
  source: SharedSource;
  log: Log;
  redact: (text: string) => string;
  encoder: string;
  /** Decided per start so an auto camera that failed copy transcodes from then on. */
  mode: () => { mode: 'copy' | 'transcode'; why: string; auto: boolean };
  onCopyFailed: () => void;
  /** Audio to send, or why not (logged once per session). */
  audio: (request: AudioRequest | undefined) => AudioRequest | { skip: string } | undefined;
  viewerTimeoutMs: number;
  startTimeoutMs: number;
  copyFallbackMs: number;
  onFirstFrame: (ms: number) => void;
  /** Called once when the session ends for any reason other than a STOP from HomeKit. */
  onSelfEnded: (reason: SessionFailure) => void;
  onEnded: () => void;
}

export class StreamSession {
  readonly ssrcVideo = randomSsrc();
  readonly ssrcAudio = randomSsrc();
  private readonly controller = new AbortController();
  private ffmpeg: FfmpegProcess | undefined;
  private attachment: FeedAttachment | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private firstFrameSeen = false;
  private ended: Promise<void> | undefined;
  private video: VideoRequest | undefined;
  private audio: AudioRequest | undefined;
  private mode: 'copy' | 'transcode' = 'copy';

  private constructor(
    private readonly deps: StreamSessionInit,
    readonly target: SessionTarget,
    readonly videoRtcp: RtcpReceiver,
    readonly audioRtcp: RtcpReceiver,
  ) {}

  static async prepare(deps: StreamSessionInit, target: SessionTarget): Promise<StreamSession> {
    const video = await RtcpReceiver.bind(target.localAddress, target.family);
    try {
      const audio = await RtcpReceiver.bind(target.localAddress, target.family);
      return new StreamSession(deps, target, video, audio);
    } catch (error) {
      video.close();
      throw error;
    }
  }

  get active(): boolean {
    return this.ended === undefined;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts streaming in the background; failures end the session and tell HomeKit. */
  start(video: VideoRequest, audio: AudioRequest | undefined): void {
    this.video = video;
    this.audio = audio;
    this.startedAt = performance.now();
    this.videoRtcp.lastPacketAt = this.startedAt;
    this.watchdog = setInterval(() => this.checkViewer(), 1000);
    this.watchdog.unref();
    fireAndForget(this.deps.log, `${this.deps.id}: stream start`, this.launch().catch((error: unknown) => this.selfEnd('start-failed', `could not start: ${this.deps.redact(error instanceof Error ? error.message : String(error))}`)));
  }

  /** New resolution/fps/bitrate: transcoding sessions swap their FFmpeg, copy sessions cannot change. */
  reconfigure(video: Pick<VideoRequest, 'width' | 'height' | 'fps' | 'bitrateKbps'>): void {
    if (!this.video || !this.active) return;
    this.video = { ...this.video, ...video };
    if (this.mode !== 'transcode') {
      this.deps.log.debug(`${this.deps.id}: reconfigure to ${video.width}x${video.height}@${video.fps} ignored in copy mode`);
      return;
    }
    this.deps.log.info(`${this.deps.id}: reconfigured to ${video.width}x${video.height}@${video.fps}fps ${video.bitrateKbps} kbit/s`);
    fireAndForget(this.deps.log, `${this.deps.id}: reconfigure`, this.launch().catch((error: unknown) => this.selfEnd('start-failed', `could not reconfigure: ${error instanceof Error ? error.message : String(error)}`)));
  }

  /** Ends the session; idempotent, resolves when FFmpeg is gone and the ports are closed. */
  end(reason: TeardownReason, message = describeTeardown(reason)): Promise<void> {
    this.ended ??= this.teardown(reason, message);
    return this.ended;
  }

  private async teardown(reason: TeardownReason, message: string): Promise<void> {
    clearInterval(this.watchdog);
    this.controller.abort(reason);
    this.attachment?.release();
    this.attachment = undefined;
    await this.ffmpeg?.stop(reason);
    this.videoRtcp.close();
    this.audioRtcp.close();
    const seconds = this.startedAt ? ((performance.now() - this.startedAt) / 1000).toFixed(1) : '0';
    this.deps.log.info(`${this.deps.id}: stream stopped after ${seconds} s (${message})`);
    this.deps.onEnded();
  }

  private selfEnd(reason: SessionFailure, message: string): void {
    if (!this.active) return;
    this.deps.log.warn(`${this.deps.id}: ${message}`);
    fireAndForget(this.deps.log, `${this.deps.id}: stream teardown`, this.end(reason, message));
    this.deps.onSelfEnded(reason);
  }

  private async launch(): Promise<void> {
    const video = this.video;
    if (!video) return;
    const lease = this.deps.source.hold();
    try {
      await this.deps.source.waitForGop(this.deps.startTimeoutMs, this.controller.signal);
      if (!this.active) return;
      const decision = this.deps.mode();
      this.mode = decision.mode;
      const audioChoice = this.deps.audio(this.audio);
      let audio: AudioOutput | undefined;
      let audioNote = 'no audio';
      if (audioChoice && 'skip' in audioChoice) {
        audioNote = `audio dropped: ${audioChoice.skip}`;
      } else if (audioChoice) {
        audio = {
          ...audioChoice,
          ssrc: this.ssrcAudio,
          target: { address: this.target.address, port: this.target.audioPort, keyAndSalt: this.target.audioKeyAndSalt, mtu: 188, localAddress: this.target.localAddress },
        };
        audioNote = `${audioChoice.codec} ${audioChoice.sampleRateKhz} kHz`;
      }
      const gop = this.deps.source.currentGop();
      const out: VideoOutput = {
        mode: decision.mode,
        encoder: this.deps.encoder,
        width: video.width,
        height: video.height,
        fps: video.fps,
        bitrateKbps: video.bitrateKbps,
        profile: video.profile,
        level: video.level,
        payloadType: video.payloadType,
        ssrc: this.ssrcVideo,
        target: { address: this.target.address, port: this.target.videoPort, keyAndSalt: this.target.videoKeyAndSalt, mtu: video.mtu, localAddress: this.target.localAddress },
        // Transcoding starts at the live edge: decode the cached GOP but send only its newest frame on.
        skipFrames: decision.mode === 'transcode' && gop ? gop.frames - 1 : 0,
      };
      this.spawn(streamArgs({ input: sharedFeedInputArgs(), video: out, audio }), decision);
      const what = decision.mode === 'copy' ? 'copy' : `transcode ${this.deps.encoder} ${video.width}x${video.height}@${video.fps}fps ${video.bitrateKbps} kbit/s`;
      this.deps.log.info(`${this.deps.id}: stream started (${what}; ${decision.why}; ${audioNote})`);
    } finally {
      lease.release();
    }
  }

  private spawn(args: string[], decision: { mode: 'copy' | 'transcode'; auto: boolean }): void {
    const previous = { ffmpeg: this.ffmpeg, attachment: this.attachment };
    const proc = new FfmpegProcess({
      path: this.deps.ffmpegPath,
      args,
      stdin: true,
      signal: this.controller.signal,
      onStderrLine: (line) => this.deps.log.debug(`${this.deps.id} ffmpeg: ${this.deps.redact(line)}`),
      onProgress: (progress) => this.onProgress(progress, proc),
    });
    this.ffmpeg = proc;
    const stdin = proc.stdin;
    if (!stdin) throw new Error('FFmpeg has no stdin');
    this.attachment = this.deps.source.attach(this.deps.id, stdin, (message) => this.selfEnd('feed-ended', message));
    // Swap only after the new one is attached, so a reconfigure never leaves the feed unheld.
    previous.attachment?.release();
    if (previous.ffmpeg) fireAndForget(this.deps.log, `${this.deps.id}: stopping the replaced FFmpeg`, previous.ffmpeg.stop('reconfigured'));
    fireAndForget(this.deps.log, `${this.deps.id}: FFmpeg exit handling`, proc.exited.then((exit) => this.onExit(proc, exit)));
    if (decision.mode === 'copy' && decision.auto) {
      const timer = setTimeout(() => {
        if (this.ffmpeg !== proc || !this.active || this.firstFrameSeen) return;
        this.deps.onCopyFailed();
        this.deps.log.warn(`${this.deps.id}: copy mode gave no frames within ${this.deps.copyFallbackMs} ms; transcoding this camera from now on`);
        fireAndForget(this.deps.log, `${this.deps.id}: transcode fallback`, this.launch().catch((error: unknown) => this.selfEnd('start-failed', `transcode fallback failed: ${String(error)}`)));
      }, this.deps.copyFallbackMs);
      timer.unref();
      this.controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    }
  }

  private onProgress(progress: FfmpegProgress, proc: FfmpegProcess): void {
    if (proc !== this.ffmpeg) return;
    if (!this.firstFrameSeen && progress.frame > 0) {
      this.firstFrameSeen = true;
      this.deps.onFirstFrame(Math.round(performance.now() - this.startedAt));
    }
  }

  private onExit(proc: FfmpegProcess, exit: FfmpegExit): void {
    if (proc !== this.ffmpeg || exit.stopReason !== undefined || !this.active) return;
    const tail = exit.stderr.slice(-5).map((l) => this.deps.redact(l)).join(' | ');
    this.selfEnd('ffmpeg-exited', `FFmpeg exited (${exit.code ?? exit.signal})${tail ? `: ${tail}` : ''}`);
  }

  private checkViewer(): void {
    const silentMs = performance.now() - Math.max(this.videoRtcp.lastPacketAt, this.audioRtcp.lastPacketAt);
    if (silentMs > this.deps.viewerTimeoutMs) {
      this.selfEnd('viewer-gone', `viewer sent no RTCP for ${Math.round(silentMs / 1000)} s (left the network?)`);
    }
  }
}

function randomSsrc(): number {
  // Unsigned 32-bit, never 0.
  return (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;
}
