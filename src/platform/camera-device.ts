/**
 * Everything one camera owns, wired together: the shared feed, snapshots, the streaming delegate,
 * the HomeKit controller and the optional motion sensor / doorbell. `close()` is its one teardown.
 */
import type { API, CameraController, PlatformAccessory, Service } from 'homebridge';
import type { CameraConfig } from '../config/config-types.js';
import type { LoginGate } from '../health/login-guard.js';
import { MODERN_FEATURES, type FfmpegFeatures } from '../ffmpeg/capabilities.js';
import type { Log } from '../logging.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import { probeRtsp } from '../health/rtsp-probe.js';
import { StreamingDelegate } from '../hap/streaming-delegate.js';
import { streamingOptions } from '../hap/streaming-options.js';
import type { CameraStreamInfo } from '../hap/video-mode.js';
import { RecordingDelegate } from '../recording/recording-delegate.js';
import { recordingOptions } from '../recording/recording-options.js';
import type { RecordingState } from '../recording/recording-state.js';
import { TIMINGS } from '../settings.js';
import { SnapshotService } from '../snapshot/snapshot-service.js';
import type { SnapshotSlots } from '../snapshot/snapshot-limiter.js';
import type { PlaceholderImages } from '../snapshot/placeholder-images.js';
import { CameraStreams, type StreamProbeInfo, type StreamSpec } from '../source/camera-streams.js';
import { SharedSource, type SourceEvent } from '../source/shared-source.js';

/** What the camera reports to its health monitor (platform-health.ts), and what it asks of it. */
export interface CameraObserver {
  /** The camera's one login gate, shared by the feed and the health probe (lockout-safe credentials). */
  readonly loginGate?: LoginGate;
  sourceEvent(event: SourceEvent): void;
  viewers(count: number): void;
  firstFrame(ms: number): void;
  /** FFmpeg damage messages (decode-evidence.ts) from the feed, viewers, snapshots and recordings. */
  decodeEvidence(count: number): void;
  streamInfo(): CameraStreamInfo | undefined;
  cameraDown(): boolean;
  /** HomeKit Secure Video state changes (recording cameras only). */
  recording?(state: RecordingState): void;
}

export interface CameraDeviceInit {
  api: API;
  accessory: PlatformAccessory;
  camera: CameraConfig;
  ffmpegPath: string;
  encoders: ReadonlySet<string>;
  /** Version-dependent FFmpeg options (capabilities.ts); default: a current FFmpeg. */
  ffmpegFeatures?: FfmpegFeatures;
  lingerMs: number;
  log: Log;
  redact: (text: string) => string;
  observer: CameraObserver;
  version: string;
  /** This camera's share of the platform-wide snapshot FFmpeg cap. */
  snapshotSlots?: SnapshotSlots;
  /** The platform's "no picture" JPEGs, shared by every camera. */
  placeholders?: PlaceholderImages;
}

export class CameraDevice {
  /** The main stream's feed: prebuffer, recording and health stay on it. */
  readonly source: SharedSource;
  /** Main + substreams; viewers and snapshots choose among them. */
  readonly streams: CameraStreams;
  readonly snapshots: SnapshotService;
  readonly delegate: StreamingDelegate;
  readonly controller: CameraController;
  /** HomeKit Secure Video, when the camera has `recording: true`. */
  readonly recording: RecordingDelegate | undefined;
  private motionService: Service | undefined;
  private motionTimer: NodeJS.Timeout | undefined;
  private prebufferLease: { release(): void } | undefined;
  private readonly closing = new AbortController();
  private lastRingAt: number | undefined;

  constructor(private readonly init: CameraDeviceInit) {
    const { api, accessory, camera, log } = init;
    const features = init.ffmpegFeatures ?? MODERN_FEATURES;
    const hap = api.hap;
    accessory.getService(hap.Service.AccessoryInformation)
      ?.setCharacteristic(hap.Characteristic.Manufacturer, camera.manufacturer ?? 'homebridge-cctv')
      .setCharacteristic(hap.Characteristic.Model, camera.model ?? 'RTSP camera')
      // HAP-NodeJS ignores serial numbers shorter than 2 characters.
      .setCharacteristic(hap.Characteristic.SerialNumber, camera.serialNumber ?? (camera.id.length >= 2 ? camera.id : `cctv-${camera.id}`))
      .setCharacteristic(hap.Characteristic.FirmwareRevision, init.version);

    const feedFor = (url: string, feedLog: Log, onEvent: (event: SourceEvent) => void): SharedSource => new SharedSource({
      ffmpegPath: init.ffmpegPath,
      args: { input: { url, transport: camera.rtspTransport, timeoutOption: features.rtspSocketTimeout }, audio: camera.audio.enabled },
      lingerMs: init.lingerMs,
      log: feedLog,
      redact: init.redact,
      stallMs: TIMINGS.stallMs,
      // One camera, one account: substream logins count against the same lockout.
      ...(init.observer.loginGate ? { loginGate: init.observer.loginGate } : {}),
      onEvent,
      // Damage seen on any of the camera's streams is evidence about the camera.
      onDecodeEvidence: (count) => init.observer.decodeEvidence(count),
    });
    this.source = feedFor(camera.source, log, (event) => init.observer.sourceEvent(event));
    this.streams = new CameraStreams({
      main: this.source,
      mainUrl: camera.source,
      substreams: camera.substreams.map((s) => ({ name: s.name, url: s.source, width: s.width, height: s.height })),
      createSource: (spec) => this.substreamFeed(spec, feedFor),
      probe: (url, signal) => this.probeStream(url, signal),
      probeWaitMs: TIMINGS.streamProbeWaitMs,
      log,
    });
    this.snapshots = new SnapshotService({
      ffmpegPath: init.ffmpegPath,
      source: this.source,
      ...(this.streams.multiple ? { pickSource: (width: number, height: number) => this.streams.snapshotFeed(width, height) } : {}),
      snapshotUrl: camera.snapshotSource,
      rtspTransport: camera.rtspTransport,
      rtspTimeoutOption: features.rtspSocketTimeout,
      log,
      redact: init.redact,
      cameraDown: () => init.observer.cameraDown(),
      onDecodeEvidence: (count) => init.observer.decodeEvidence(count),
      freshMs: TIMINGS.snapshotFreshMs,
      budgetMs: TIMINGS.snapshotBudgetMs,
      slots: init.snapshotSlots,
      placeholders: init.placeholders,
    });
    this.delegate = new StreamingDelegate({
      api: hap,
      camera,
      ffmpegPath: init.ffmpegPath,
      encoders: init.encoders,
      ffmpegFeatures: features,
      source: this.source,
      streams: this.streams,
      snapshots: this.snapshots,
      log,
      redact: init.redact,
      timings: TIMINGS,
      streamInfo: () => init.observer.streamInfo(),
      onViewers: (n) => init.observer.viewers(n),
      onFirstFrame: (ms) => init.observer.firstFrame(ms),
      onDecodeEvidence: (count) => init.observer.decodeEvidence(count),
    });
    // The motion sensor exists before the controller, so HAP-NodeJS links it to recording management.
    const existingMotion = accessory.getService(hap.Service.MotionSensor);
    if (camera.motion || camera.recording) {
      this.motionService = existingMotion ?? accessory.addService(hap.Service.MotionSensor, camera.name);
      this.motionService.updateCharacteristic(hap.Characteristic.MotionDetected, false);
    } else if (existingMotion) {
      accessory.removeService(existingMotion);
    }
    this.recording = camera.recording
      ? new RecordingDelegate({
        hap,
        camera,
        ffmpegPath: init.ffmpegPath,
        source: this.source,
        log,
        redact: init.redact,
        streamInfo: () => init.observer.streamInfo(),
        audioActive: () => this.recordingAudioActive(),
        onState: (state) => init.observer.recording?.(state),
        maxMs: TIMINGS.recordingMaxMs,
        fragmentSlackMs: TIMINGS.recordingFragmentSlackMs,
        legacyScale: features.scaleDivisibleBy === false,
        onDecodeEvidence: (count) => init.observer.decodeEvidence(count),
      })
      : undefined;
    const options = {
      cameraStreamCount: camera.maxStreams,
      delegate: this.delegate,
      streamingOptions: streamingOptions(hap, camera, init.encoders),
      ...(this.recording && this.motionService
        ? { recording: { options: recordingOptions(hap, camera), delegate: this.recording }, sensors: { motion: this.motionService } }
        : {}),
    };
    this.controller = camera.doorbell ? new hap.DoorbellController(options) : new hap.CameraController(options);
    this.delegate.controller = this.controller;
    // Restores cached recording services (and HAP-NodeJS replays the saved selection and Active).
    accessory.configureController(this.controller);

    // A camera with substreams probes each stream once (sizes, codecs and audio for the chooser).
    if (this.streams.multiple) fireAndForget(log, 'stream probes', this.streams.learn());
    else if (camera.audio.enabled) this.learnAudioCodec();
    if (camera.prebuffer) this.prebufferLease = this.source.hold();
  }

  /** A substream's feed: health follows the main stream only, so its events are just logged. */
  private substreamFeed(spec: StreamSpec, feedFor: (url: string, feedLog: Log, onEvent: (event: SourceEvent) => void) => SharedSource): SharedSource {
    const log = this.init.log;
    const prefixed: Log = {
      info: (m) => log.info(`stream ${spec.name}: ${m}`),
      warn: (m) => log.warn(`stream ${spec.name}: ${m}`),
      error: (m) => log.error(`stream ${spec.name}: ${m}`),
      debug: (m) => log.debug(`stream ${spec.name}: ${m}`),
    };
    return feedFor(spec.url, prefixed, (event) => {
      if (event.type === 'ended' && event.failed) prefixed.warn(`camera feed ended (${event.reason}): ${event.message}`);
      else if (event.type === 'first-keyframe') prefixed.debug(`first keyframe after ${event.ms} ms`);
    });
  }

  /** One DESCRIBE through the camera's login gate (lockout-safe), for the stream chooser. */
  private async probeStream(url: string, signal: AbortSignal): Promise<StreamProbeInfo | undefined> {
    const ticket = this.init.observer.loginGate?.begin();
    if (ticket && !ticket.ok) return undefined;
    let result;
    try {
      result = await probeRtsp(url, { timeoutMs: 5000, signal });
      ticket?.attempt.end(result.ok ? 'accepted' : result.reason === 'unauthorized' ? 'rejected' : 'unknown');
    } finally {
      ticket?.attempt.end('unknown');
    }
    if (!result.ok) {
      this.init.log.debug(`stream probe failed (${result.reason}): ${this.init.redact(result.message)}`);
      // A refused login is an answer: asking again, or opening the stream, would only spend logins of the shared gate.
      return result.reason === 'unauthorized' ? { refused: true } : undefined;
    }
    const video = result.video;
    return {
      codec: video.codec,
      ...(video.sps ? { width: video.sps.width, height: video.sps.height } : video.width !== undefined && video.height !== undefined ? { width: video.width, height: video.height } : {}),
      audioCodec: result.audio?.codec ?? 'none',
    };
  }

  private recordingAudioActive(): boolean {
    const service = this.controller.recordingManagement?.recordingManagementService;
    const value = service?.getCharacteristic(this.init.api.hap.Characteristic.RecordingAudioActive).value;
    return value === 1 || value === true;
  }

  /**
   * One DESCRIBE at start-up tells the feed whether the camera's audio is AAC (copied into the feed)
   * or something MPEG-TS cannot carry (G.711: re-encoded to AAC there). Without an answer the feed
   * re-encodes, which always works.
   */
  private learnAudioCodec(): void {
    fireAndForget(this.init.log, 'audio codec probe', async () => {
      // A login like any other: after rejected passwords it waits its turn (lockout-safe credentials).
      const ticket = this.init.observer.loginGate?.begin();
      if (ticket && !ticket.ok) return;
      let result;
      try {
        result = await probeRtsp(this.init.camera.source, { timeoutMs: 5000, signal: this.closing.signal });
        ticket?.attempt.end(result.ok ? 'accepted' : result.reason === 'unauthorized' ? 'rejected' : 'unknown');
      } finally {
        ticket?.attempt.end('unknown');
      }
      if (!result.ok) return;
      this.source.audioCodecHint = result.audio?.codec ?? 'none';
      this.init.log.debug(`camera audio: ${result.audio ? `${result.audio.codec} ${result.audio.sampleRate} Hz` : 'none'}`);
    });
  }

  get camera(): CameraConfig {
    return this.init.camera;
  }

  /** Motion from MQTT; resets itself after motionTimeoutSeconds. Returns false if not a motion camera. */
  setMotion(detected: boolean): boolean {
    const service = this.motionService;
    if (!service) return false;
    clearTimeout(this.motionTimer);
    service.updateCharacteristic(this.init.api.hap.Characteristic.MotionDetected, detected);
    if (detected) {
      this.motionTimer = setTimeout(() => service.updateCharacteristic(this.init.api.hap.Characteristic.MotionDetected, false), this.init.camera.motionTimeoutSeconds * 1000);
      this.motionTimer.unref();
    }
    return true;
  }

  /**
   * Rings a doorbell camera, at most once per `doorbellMinIntervalSeconds`: a publisher stuck in a
   * loop rings every phone in the house once, not once a message.
   */
  ring(): 'done' | 'unsupported' | 'throttled' {
    const controller = this.controller as CameraController & { ringDoorbell?: () => void };
    if (!this.init.camera.doorbell || typeof controller.ringDoorbell !== 'function') return 'unsupported';
    const now = performance.now();
    if (this.lastRingAt !== undefined && now - this.lastRingAt < this.init.camera.doorbellMinIntervalSeconds * 1000) return 'throttled';
    this.lastRingAt = now;
    controller.ringDoorbell();
    // Home hubs do not arm doorbell triggers (HAP-NodeJS #976): a ring also counts as motion, so it records.
    if (this.recording) this.setMotion(true);
    return 'done';
  }

  /** Ends every stream, snapshot and the camera feed; resolves when all FFmpeg children are gone. */
  async close(): Promise<void> {
    clearTimeout(this.motionTimer);
    this.closing.abort();
    this.prebufferLease?.release();
    this.snapshots.close();
    await this.recording?.close();
    await this.delegate.close();
    await Promise.all([this.streams.close(), this.source.close()]);
  }
}
