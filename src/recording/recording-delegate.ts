/**
 * HAP-NodeJS's CameraRecordingDelegate for one camera. Keeps the prebuffer (a history hold on the
 * shared feed) while the hub has recording Active with a selected configuration, and runs at most
 * one RecordingSession per dataSend stream. HAP-NodeJS itself refuses streams when recording is not
 * Active or the camera is off (NOT_ALLOWED) and while one runs (BUSY).
 *
 * Works with both delegate shapes: HAP-NodeJS 2.x passes an AbortSignal and calls generator.return()
 * on close; 0.12 (Homebridge 1.8) passes no signal and only calls closeRecordingStream. Either way
 * the session's stop() ends the generator's wait, so it returns promptly.
 */
import type { API, CameraRecordingConfiguration, CameraRecordingDelegate, RecordingPacket } from 'homebridge';
import type { CameraConfig } from '../config/config-types.js';
import { sharedFeedInputArgs } from '../ffmpeg/args/input-args.js';
import { recordingArgs, type RecordingAudio, type RecordingVideo } from '../ffmpeg/args/recording-args.js';
import type { H264Profile } from '../ffmpeg/args/stream-args.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { Log } from '../logging.js';
import type { SharedSource, SourceLease } from '../source/shared-source.js';
import { MAX_PREBUFFER_MS } from './recording-options.js';
import { chooseRecordingMode, type RecordingModeInput } from './recording-mode.js';
import { RecordingFailure, RecordingSession, type RecordingEnd } from './recording-session.js';
import { initialRecordingState, reduceRecordingState, type RecordingEvent, type RecordingState } from './recording-state.js';

/** What the camera's feed is known to carry (from its SPS), for the copy decision. */
export interface RecordingStreamInfo {
  codec?: string;
  profileIdc?: number;
  levelIdc?: number;
  width?: number;
  height?: number;
}

export interface RecordingDelegateInit {
  hap: API['hap'];
  camera: CameraConfig;
  ffmpegPath: string;
  source: SharedSource;
  log: Log;
  redact: (text: string) => string;
  streamInfo: () => RecordingStreamInfo | undefined;
  /** RecordingAudioActive, read when a recording starts. */
  audioActive: () => boolean;
  onState?: (state: RecordingState) => void;
  /** Hard cap on one recording (HomeKit's clips are up to ~3 minutes). */
  maxMs: number;
  /** Extra slack over the fragment length before a missing fragment counts as a stall. */
  fragmentSlackMs: number;
  /** FFmpeg < 4.3: even sizes by a second scale (no force_divisible_by). */
  legacyScale?: boolean;
  /** Damage messages from recording FFmpegs (see decode-evidence.ts). */
  onDecodeEvidence?: (count: number) => void;
  nowMs?: () => number;
}

const PROFILES: readonly H264Profile[] = ['baseline', 'main', 'high'];
const LEVELS: readonly string[] = ['3.1', '3.2', '4.0'];
const SAMPLE_RATES_HZ: readonly number[] = [8000, 16000, 24000, 32000, 44100, 48000];
const CLOSE_REASONS: readonly string[] = ['normal', 'not-allowed', 'busy', 'cancelled', 'unsupported', 'unexpected-failure', 'timeout', 'bad-data', 'protocol-error', 'invalid-configuration'];

type ProtocolErrorClass = new (reason: number) => Error;

export class RecordingDelegate implements CameraRecordingDelegate {
  private active = false;
  private configuration: CameraRecordingConfiguration | undefined;
  private prebuffer: SourceLease | undefined;
  private readonly sessions = new Map<number, RecordingSession>();
  /** Why the hub ended a session, kept until the session's teardown reports it. */
  private readonly hubReasons = new WeakMap<RecordingSession, string>();
  private state: RecordingState;
  private closed = false;

  constructor(private readonly init: RecordingDelegateInit) {
    this.state = initialRecordingState(this.nowMs());
    this.emitState();
  }

  private nowMs(): number {
    return this.init.nowMs?.() ?? Date.now();
  }

  get recordingState(): RecordingState {
    return this.state;
  }

  /** The running recordings' FFmpeg pids (for diagnostics). */
  get runningPids(): number[] {
    return [...this.sessions.values()].map((s) => s.pid).filter((p): p is number => p !== undefined);
  }

  updateRecordingActive(active: boolean): void {
    this.active = active;
    this.init.log.info(`recording ${active ? 'armed by the home hub' : 'disarmed'}`);
    this.reconcile();
  }

  updateRecordingConfiguration(configuration: CameraRecordingConfiguration | undefined): void {
    this.configuration = configuration;
    if (configuration) {
      const [w, h, fps] = configuration.videoCodec.resolution;
      this.init.log.info(`recording configuration: ${w}x${h}@${fps}, ${configuration.videoCodec.parameters.bitRate} kbit/s, prebuffer ${configuration.prebufferLength} ms, fragments ${configuration.mediaContainerConfiguration.fragmentLength} ms`);
    }
    this.reconcile();
  }

  private prebufferMs(): number {
    return Math.min(MAX_PREBUFFER_MS, Math.max(0, this.configuration?.prebufferLength ?? 4000));
  }

  /** Hold the feed with history exactly while armed. */
  private reconcile(): void {
    const armed = !this.closed && this.active && this.configuration !== undefined;
    if (armed && !this.prebuffer) {
      // One extra second: the keyframe nearest to now - prebufferLength may be just before it.
      this.prebuffer = this.init.source.keepHistory(this.prebufferMs() + 1000);
    } else if (!armed && this.prebuffer) {
      this.prebuffer.release();
      this.prebuffer = undefined;
    }
    if (armed !== this.state.armed) this.emit({ type: 'armed', armed });
  }

  private emit(event: RecordingEvent): void {
    this.state = reduceRecordingState(this.state, event, this.nowMs());
    this.emitState();
  }

  private emitState(): void {
    try {
      this.init.onState?.(this.state);
    } catch (error) {
      this.init.log.error(`recording state listener failed: ${String(error)}`);
    }
  }

  private protocolError(reason: number, message: string): Error {
    const ErrorClass = (this.init.hap as unknown as { HDSProtocolError?: ProtocolErrorClass }).HDSProtocolError;
    return ErrorClass ? new ErrorClass(reason) : new Error(message);
  }

  async *handleRecordingStreamRequest(streamId: number, signal?: AbortSignal): AsyncGenerator<RecordingPacket> {
    const configuration = this.configuration;
    if (!configuration || this.closed) throw this.protocolError(9, 'no recording configuration selected');
    const { video, audio, why, mode } = this.plan(configuration);
    const fragmentMs = configuration.mediaContainerConfiguration.fragmentLength;
    const session = new RecordingSession({
      id: String(streamId),
      ffmpegPath: this.init.ffmpegPath,
      args: recordingArgs({ input: sharedFeedInputArgs(), video, audio }),
      source: this.init.source,
      log: this.init.log,
      redact: this.init.redact,
      prebufferMs: this.prebufferMs(),
      fragmentTimeoutMs: fragmentMs + this.init.fragmentSlackMs,
      maxMs: this.init.maxMs,
      onDecodeEvidence: (count) => this.init.onDecodeEvidence?.(count),
    });
    this.sessions.get(streamId)?.stop('hub-closed').catch(() => undefined);
    this.sessions.set(streamId, session);
    this.init.log.info(`recording ${streamId} started (${mode}: ${why}; ${audio ? 'AAC-LC audio' : 'no audio'}; from ${Math.round(session.prebufferedMs)} ms before now)`);
    this.emit({ type: 'started', mode });
    const onAbort = (): void => fireAndForget(this.init.log, `recording ${streamId} stop`, session.stop('hub-closed'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const packet of session.packets()) yield packet;
    } catch (error) {
      if (error instanceof RecordingFailure) {
        this.init.log.warn(`recording ${streamId} failed: ${error.message}`);
        throw this.protocolError(5, error.message);
      }
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await session.stop('hub-closed');
      this.finish(streamId, session);
    }
  }

  private finish(streamId: number, session: RecordingSession): void {
    if (this.sessions.get(streamId) !== session) return;
    this.sessions.delete(streamId);
    const ended = this.hubReasons.get(session) ?? session.ended ?? 'hub-closed';
    this.init.log.info(`recording ${streamId} ended (${ended}): ${session.fragments} fragments, ${Math.round(session.bytes / 1024)} KiB`);
    this.emit({ type: 'ended', reason: ended });
  }

  acknowledgeStream(streamId: number): void {
    this.end(streamId, 'hub-acknowledged');
  }

  closeRecordingStream(streamId: number, reason: number | undefined): void {
    const end: RecordingEnd = reason === undefined ? 'connection-closed' : 'hub-closed';
    const detail = reason === undefined || reason === 0 ? undefined : `hub-closed (${CLOSE_REASONS[reason] ?? reason})`;
    this.end(streamId, end, detail);
  }

  private end(streamId: number, reason: RecordingEnd, detail?: string): void {
    const session = this.sessions.get(streamId);
    if (!session) return;
    // Record the hub's reason now: the generator's finally only sees that it was stopped.
    if (!session.ended || detail) this.hubReasons.set(session, detail ?? reason);
    fireAndForget(this.init.log, `recording ${streamId} stop`, session.stop(reason).then(() => this.finish(streamId, session)));
  }

  private plan(c: CameraRecordingConfiguration): { video: RecordingVideo; audio: RecordingAudio | undefined; mode: 'copy' | 'transcode'; why: string } {
    const info = this.init.streamInfo();
    const [width, height, fps] = c.videoCodec.resolution;
    const fragmentMs = c.mediaContainerConfiguration.fragmentLength;
    const input: RecordingModeInput = {
      configured: this.init.camera.video.mode,
      camera: { ...info, gopMs: this.init.source.historyInfo()?.gopMs },
      selected: { width, height, profile: c.videoCodec.parameters.profile, level: c.videoCodec.parameters.level, fragmentMs },
    };
    const decision = chooseRecordingMode(input);
    const video: RecordingVideo = decision.mode === 'copy'
      ? { mode: 'copy' }
      : {
        mode: 'transcode',
        encoder: this.init.camera.video.encoder,
        width,
        height,
        fps: Math.min(fps, this.init.camera.video.maxFps),
        bitrateKbps: Math.min(c.videoCodec.parameters.bitRate, this.init.camera.video.maxBitrate),
        profile: PROFILES[c.videoCodec.parameters.profile] ?? 'main',
        level: LEVELS[c.videoCodec.parameters.level] ?? '4.0',
        keyframeIntervalMs: Math.min(c.videoCodec.parameters.iFrameInterval || fragmentMs, fragmentMs),
        legacyScale: this.init.legacyScale,
      };
    const withAudio = this.init.audioActive() && this.init.camera.audio.enabled && this.init.source.hasAudio;
    const audio: RecordingAudio | undefined = withAudio
      ? { sampleRateHz: SAMPLE_RATES_HZ[c.audioCodec.samplerate] ?? 32000, channels: c.audioCodec.audioChannels ?? 1, bitrateKbps: c.audioCodec.bitrate || 64 }
      : undefined;
    return { video, audio, mode: decision.mode, why: decision.why };
  }

  /** Ends every recording and the prebuffer; resolves when their FFmpeg children are gone. */
  async close(): Promise<void> {
    this.closed = true;
    this.reconcile();
    await Promise.allSettled([...this.sessions.values()].map((s) => s.stop('shutdown')));
  }
}
