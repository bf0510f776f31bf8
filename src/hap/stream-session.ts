/**
 * One viewer's stream, from SetupEndpoints to its end. Owns its RTCP ports, its FFmpeg and its feed
 * attachment; everything is torn down through `end()`, exactly once. The input is the camera's
 * shared feed, so the camera sees one connection however many viewers there are.
 */
import type { Log } from '../logging.js';
import { sharedFeedInputArgs } from '../ffmpeg/args/input-args.js';
import { audioOnlyStreamArgs, streamArgs, type AudioOutput, type VideoOutput } from '../ffmpeg/args/stream-args.js';
import type { AudioRequest, SessionTarget, VideoRequest } from './hap-request-types.js';
import { decodeEvidenceTap } from '../ffmpeg/decode-evidence.js';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import type { FfmpegFeatures } from '../ffmpeg/capabilities.js';
import type { FfmpegProgress } from '../ffmpeg/progress-parser.js';
import type { FeedAttachment, SharedSource, SourceLease } from '../source/shared-source.js';
import { CopyVideoViewer } from '../rtp/copy-video-viewer.js';
import { VideoRtpSender } from '../rtp/video-rtp-sender.js';
import { RtpRelay } from '../rtp/rtp-relay.js';
import { RtcpReceiver } from './rtcp-receiver.js';
import { DROP_GRACE_MS, waitForFeedBack } from './feed-drop.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import { describeTeardown, type SessionFailure, type TeardownReason } from '../lifecycle/teardown-reason.js';

/**
 * How long SetupEndpoints alone keeps the camera feed held: HomeKit sends START within about a
 * second, while a setup HAP-NodeJS dropped silently (unparseable START) must not keep the camera
 * connected for the whole prepare timeout.
 */
const PREPARED_FEED_HOLD_MS = 5000;
/** RECONFIGUREs closer together than this become one FFmpeg restart. */
const RECONFIGURE_SETTLE_MS = 250;

/** The shared feed a viewer watches, and the log note on which stream it is and why. */
export interface SessionFeed {
  source: SharedSource;
  /** Empty for a one-stream camera. */
  note: string;
}

export interface StreamSessionInit {
  id: string;
  ffmpegPath: string;
  /**
   * One-stream camera: its feed, held from SetupEndpoints on so the camera connects while HomeKit
   * negotiates. Undefined when the camera has substreams: the stream depends on the size START asks for.
   */
  source: SharedSource | undefined;
  /** Picks the feed at the first START (called only when `source` is undefined). */
  chooseFeed: (video: VideoRequest, signal: AbortSignal) => Promise<SessionFeed>;
  log: Log;
  redact: (text: string) => string;
  encoder: string;
  /** Version-dependent options (capabilities.ts); default: a current FFmpeg. */
  ffmpegFeatures?: Pick<FfmpegFeatures, 'statsPeriod' | 'scaleDivisibleBy'>;
  /** Copy video: sent from Node (src/rtp, no process per viewer) or by a viewer FFmpeg (the old path). */
  copySender: 'node' | 'ffmpeg';
  /** Decided per start so an auto camera that failed copy transcodes from then on. */
  mode: (video: VideoRequest, feed: SharedSource) => { mode: 'copy' | 'transcode'; why: string; auto: boolean };
  onCopyFailed: () => void;
  /** Audio to send, or why not (logged once per session). */
  audio: (request: AudioRequest | undefined, feed: SharedSource) => AudioRequest | { skip: string } | undefined;
  viewerTimeoutMs: number;
  startTimeoutMs: number;
  copyFallbackMs: number;
  onFirstFrame: (ms: number) => void;
  /** Damage messages from this session's FFmpeg (a transcode decodes the feed). */
  onDecodeEvidence?: (count: number) => void;
  /** Called once when the session ends for any reason other than a STOP from HomeKit. */
  onSelfEnded: (reason: SessionFailure) => void;
  onEnded: () => void;
}

/** Bound on waiting for slice headers after the keyframe (4 pictures at 5 fps, with margin). */
const STREAM_INFO_WAIT_MS = 1000;

export class StreamSession {
  readonly ssrcVideo = randomSsrc();
  readonly ssrcAudio = randomSsrc();
  private readonly controller = new AbortController();
  private ffmpeg: FfmpegProcess | undefined;
  private copyVideo: CopyVideoViewer | undefined;
  /** Held from SetupEndpoints on, so the camera is connecting while HomeKit negotiates. */
  private feedLease: SourceLease | undefined;
  private feedLeaseTimer: NodeJS.Timeout | undefined;
  /** The feed is not H.264 (or Node cannot carry it): this session uses the FFmpeg copy path. */
  private ffmpegCopy = false;
  /** The session's feed: from SetupEndpoints (one stream) or chosen at the first START; fixed for the session. */
  private feed: SessionFeed | undefined;
  private attachment: FeedAttachment | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private firstFrameSeen = false;
  private ended: Promise<void> | undefined;
  private video: VideoRequest | undefined;
  private audio: AudioRequest | undefined;
  /** Undefined until the first launch has decided (it may be waiting for the camera's keyframe). */
  private mode: 'copy' | 'transcode' | undefined;
  /** Viewer FFmpegs write plain RTP here; the relays own the session's SRTP state (rtp-relay.ts). */
  private relays: { video: RtpRelay; audio: RtpRelay | undefined } | undefined;
  private reconfigureTimer: NodeJS.Timeout | undefined;
  private launching: Promise<void> | undefined;
  private relaunchPending = false;

  private constructor(
    private readonly deps: StreamSessionInit,
    readonly target: SessionTarget,
    readonly videoRtcp: RtcpReceiver,
    readonly audioRtcp: RtcpReceiver,
  ) {}

  static async prepare(deps: StreamSessionInit, target: SessionTarget): Promise<StreamSession> {
    const video = await RtcpReceiver.bind(target.localAddress, target.family, target.videoKeyAndSalt);
    try {
      const audio = await RtcpReceiver.bind(target.localAddress, target.family, target.audioKeyAndSalt);
      const session = new StreamSession(deps, target, video, audio);
      if (!deps.source) return session;
      session.feed = { source: deps.source, note: '' };
      session.feedLease = deps.source.hold();
      session.feedLeaseTimer = setTimeout(() => {
        if (session.startedAt) return;
        session.feedLease?.release();
        session.feedLease = undefined;
      }, PREPARED_FEED_HOLD_MS);
      session.feedLeaseTimer.unref();
      return session;
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
    // Still waiting for the first keyframe: that launch reads the new size when it goes on.
    if (this.mode === undefined) return;
    if (this.mode !== 'transcode') {
      this.deps.log.debug(`${this.deps.id}: reconfigure to ${video.width}x${video.height}@${video.fps} ignored in copy mode`);
      return;
    }
    clearTimeout(this.reconfigureTimer);
    this.reconfigureTimer = setTimeout(() => this.relaunch(), RECONFIGURE_SETTLE_MS);
    this.reconfigureTimer.unref();
  }

  /** One FFmpeg restart at a time; RECONFIGUREs during one are folded into a single next one. */
  private relaunch(): void {
    if (!this.active) return;
    if (this.launching) {
      this.relaunchPending = true;
      return;
    }
    const video = this.video;
    if (video) this.deps.log.info(`${this.deps.id}: reconfigured to ${video.width}x${video.height}@${video.fps}fps ${video.bitrateKbps} kbit/s`);
    this.launching = this.launch()
      .catch((error: unknown) => this.selfEnd('start-failed', `could not reconfigure: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.launching = undefined;
        if (this.relaunchPending) {
          this.relaunchPending = false;
          this.relaunch();
        }
      });
    fireAndForget(this.deps.log, `${this.deps.id}: reconfigure`, this.launching);
  }

  /** Ends the session; idempotent, resolves when FFmpeg is gone and the ports are closed. */
  end(reason: TeardownReason, message = describeTeardown(reason)): Promise<void> {
    this.ended ??= this.teardown(reason, message);
    return this.ended;
  }

  private async teardown(reason: TeardownReason, message: string): Promise<void> {
    clearInterval(this.watchdog);
    clearTimeout(this.reconfigureTimer);
    clearTimeout(this.feedLeaseTimer);
    this.controller.abort(reason);
    this.attachment?.release();
    this.attachment = undefined;
    this.copyVideo?.stop();
    this.copyVideo = undefined;
    this.feedLease?.release();
    this.feedLease = undefined;
    await this.ffmpeg?.stop(reason);
    this.relays?.video.close();
    this.relays?.audio?.close();
    this.relays = undefined;
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

  /** The feed in use; only called once launch() has chosen it. */
  private get source(): SharedSource {
    if (!this.feed) throw new Error('no feed chosen yet');
    return this.feed.source;
  }

  private async launch(): Promise<void> {
    if (!this.video) return;
    if (!this.feed) {
      const feed = await this.deps.chooseFeed(this.video, this.controller.signal);
      if (!this.active) return;
      this.feed ??= feed;
    }
    const note = this.feed.note ? `${this.feed.note}; ` : '';
    const lease = this.source.hold();
    try {
      await this.source.waitForGop(this.deps.startTimeoutMs, this.controller.signal);
      // Read after the wait: a RECONFIGURE that came meanwhile is applied, not lost.
      const video = this.video;
      if (!this.active) return;
      // The feed's SPS is in front of the keyframe just awaited; B-frame evidence may take a few pictures.
      await this.source.waitForStreamInfo(STREAM_INFO_WAIT_MS, this.controller.signal);
      if (!this.active) return;
      const decision = this.deps.mode(video, this.source);
      this.mode = decision.mode;
      const audioChoice = this.deps.audio(this.audio, this.source);
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
      if (decision.mode === 'copy' && this.deps.copySender === 'node' && !this.ffmpegCopy) {
        this.startNodeCopy(video, audio, decision);
        this.deps.log.info(`${this.deps.id}: stream started (copy, sent from Node; ${note}${decision.why}; ${audioNote})`);
        return;
      }
      this.copyVideo?.stop();
      this.copyVideo = undefined;
      const gop = this.source.currentGop();
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
        legacyScale: this.deps.ffmpegFeatures?.scaleDivisibleBy === false,
      };
      const relays = await this.openRelays(video, audio);
      if (!this.active) return;
      this.spawn(streamArgs({ input: sharedFeedInputArgs(), video: this.viaRelay(out, relays.video), audio: audio && relays.audio ? this.viaRelay(audio, relays.audio) : audio, statsPeriod: this.deps.ffmpegFeatures?.statsPeriod }), decision);
      const what = decision.mode === 'copy' ? 'copy' : `transcode ${this.deps.encoder} ${video.width}x${video.height}@${video.fps}fps ${video.bitrateKbps} kbit/s`;
      this.deps.log.info(`${this.deps.id}: stream started (${what}; ${note}${decision.why}; ${audioNote})`);
    } finally {
      lease.release();
    }
  }

  /** Video packetized in Node from the feed; audio (if any) by an audio-only FFmpeg. */
  private startNodeCopy(video: VideoRequest, audio: AudioOutput | undefined, decision: { mode: 'copy' | 'transcode'; auto: boolean }): void {
    const sender = new VideoRtpSender({
      send: (datagram) => this.videoRtcp.send(datagram, this.target.videoPort, this.target.address),
      keyAndSalt: this.target.videoKeyAndSalt,
      ssrc: this.ssrcVideo,
      payloadType: video.payloadType,
      mtu: video.mtu,
      rtcpIntervalS: video.rtcpIntervalS,
      onFirstAccessUnit: () => this.noteFirstFrame(),
    });
    const spawnAudio = (): void => {
      if (!audio) return;
      fireAndForget(this.deps.log, `${this.deps.id}: audio`, this.openRelays(video, audio).then((relays) => {
        if (!this.active || !relays.audio) return;
        this.spawn(audioOnlyStreamArgs(sharedFeedInputArgs(), this.viaRelay(audio, relays.audio), this.deps.ffmpegFeatures?.statsPeriod), decision, () => undefined);
      }).catch((error: unknown) => this.selfEnd('start-failed', `could not start audio: ${String(error)}`)));
    };
    this.copyVideo = new CopyVideoViewer({
      id: this.deps.id,
      source: this.source,
      sender,
      log: this.deps.log,
      signal: this.controller.signal,
      onNotH264: () => {
        if (this.ffmpegCopy || !this.active) return;
        this.ffmpegCopy = true;
        this.deps.log.info(`${this.deps.id}: the feed is not H.264; copying through FFmpeg instead`);
        fireAndForget(this.deps.log, `${this.deps.id}: FFmpeg copy`, this.launch().catch((error: unknown) => this.selfEnd('start-failed', `could not start: ${String(error)}`)));
      },
      onLost: (message) => this.selfEnd('feed-ended', message),
      // The audio FFmpeg lost its input with the feed; a fresh one joins the restarted feed.
      onRecovered: spawnAudio,
    });
    this.copyVideo.start();
    spawnAudio();
  }

  /** Opened once per session, so every FFmpeg of the session (reconfigured or restarted) shares them. */
  private async openRelays(video: VideoRequest, audio: AudioOutput | undefined): Promise<{ video: RtpRelay; audio: RtpRelay | undefined }> {
    if (this.relays) return this.relays;
    const send = (port: number, rtcp: RtcpReceiver) => (datagram: Buffer): void => rtcp.send(datagram, port, this.target.address);
    const videoRelay = await RtpRelay.open({
      send: send(this.target.videoPort, this.videoRtcp), keyAndSalt: this.target.videoKeyAndSalt, ssrc: this.ssrcVideo,
      payloadType: video.payloadType, clockRate: 90_000, rtcpIntervalS: video.rtcpIntervalS,
    });
    const audioRelay = audio ? await RtpRelay.open({
      send: send(this.target.audioPort, this.audioRtcp), keyAndSalt: this.target.audioKeyAndSalt, ssrc: this.ssrcAudio,
      payloadType: audio.payloadType, clockRate: audio.sampleRateKhz * 1000, rtcpIntervalS: 5,
    }).catch((error: unknown) => {
      videoRelay.close();
      throw error;
    }) : undefined;
    if (this.relays || !this.active) {
      videoRelay.close();
      audioRelay?.close();
      if (!this.relays) throw new Error('session ended');
      return this.relays;
    }
    this.relays = { video: videoRelay, audio: audioRelay };
    return this.relays;
  }

  /** This FFmpeg's own SSRC, so the relay can tell its packets from a replaced FFmpeg's. */
  private viaRelay<T extends { ssrc: number; relayPort?: number }>(output: T, relay: RtpRelay): T {
    const ssrc = randomSsrc();
    relay.expect(ssrc);
    return { ...output, ssrc, relayPort: relay.port };
  }

  private noteFirstFrame(): void {
    if (this.firstFrameSeen) return;
    this.firstFrameSeen = true;
    // The viewer's silence is counted from its first frame on.
    this.videoRtcp.lastPacketAt = Math.max(this.videoRtcp.lastPacketAt, performance.now());
    this.deps.onFirstFrame(Math.round(performance.now() - this.startedAt));
  }

  /**
   * The feed failed under this session's FFmpeg: keep the session (and the old attachment's hold on
   * the feed, so it restarts), and start a fresh FFmpeg on the restarted feed. The relays keep the
   * viewer's sequence and timestamps running on.
   */
  private rideOutDrop(why: string): void {
    if (!this.active) return;
    this.deps.log.info(`${this.deps.id}: camera feed lost (${why}); holding the session for up to ${DROP_GRACE_MS / 1000} s`);
    setImmediate(() => fireAndForget(this.deps.log, `${this.deps.id}: feed recovery`, waitForFeedBack(this.source, DROP_GRACE_MS, this.controller.signal, why).then((outcome) => {
      if (!this.active) return;
      if (!outcome.back) {
        this.selfEnd('feed-ended', outcome.reason);
        return;
      }
      this.deps.log.info(`${this.deps.id}: camera feed back; restarting the stream's FFmpeg`);
      return this.launch();
    }).catch((error: unknown) => this.selfEnd('start-failed', `could not restart after the camera came back: ${String(error)}`))));
  }

  private spawn(args: string[], decision: { mode: 'copy' | 'transcode'; auto: boolean }, onFeedEnd: (why: string) => void = (why) => this.rideOutDrop(why)): void {
    const previous = { ffmpeg: this.ffmpeg, attachment: this.attachment };
    const evidence = decodeEvidenceTap((count) => this.deps.onDecodeEvidence?.(count));
    const proc = new FfmpegProcess({
      path: this.deps.ffmpegPath,
      args,
      stdin: true,
      signal: this.controller.signal,
      onStderrLine: (line) => {
        this.deps.log.debug(`${this.deps.id} ffmpeg: ${this.deps.redact(line)}`);
        evidence(line);
      },
      onProgress: (progress) => this.onProgress(progress, proc),
    });
    this.ffmpeg = proc;
    const stdin = proc.stdin;
    if (!stdin) throw new Error('FFmpeg has no stdin');
    this.attachment = this.source.attach(this.deps.id, stdin, onFeedEnd);
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
    if (progress.frame > 0) this.noteFirstFrame();
  }

  private onExit(proc: FfmpegProcess, exit: FfmpegExit): void {
    if (proc !== this.ffmpeg || exit.stopReason !== undefined || !this.active) return;
    const tail = exit.stderr.slice(-5).map((l) => this.deps.redact(l)).join(' | ');
    this.selfEnd('ffmpeg-exited', `FFmpeg exited (${exit.code ?? exit.signal})${tail ? `: ${tail}` : ''}`);
  }

  private checkViewer(): void {
    // Until the first frame is sent (a long-GOP camera's first keyframe can be 10 s away) a viewer
    // has nothing to report on; the start timeout bounds that wait instead.
    if (!this.firstFrameSeen) return;
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
