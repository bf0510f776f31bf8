/**
 * HomeKit's camera delegate for one camera: snapshots, SetupEndpoints, START/RECONFIGURE/STOP.
 * Every HAP callback is answered exactly once; every session it creates ends through one path.
 */
import { isIP } from 'node:net';
import type {
  API, CameraController, CameraStreamingDelegate, PrepareStreamCallback, PrepareStreamRequest, SnapshotRequest,
  SnapshotRequestCallback, StreamingRequest, StreamRequestCallback,
} from 'homebridge';
import type { CameraConfig } from '../config/config-types.js';
import type { FfmpegFeatures } from '../ffmpeg/capabilities.js';
import type { Log } from '../logging.js';
import type { SnapshotService } from '../snapshot/snapshot-service.js';
import type { SharedSource } from '../source/shared-source.js';
import { MAIN_STREAM, type CameraStreams, type FeedPick } from '../source/camera-streams.js';
import { chooseAudio } from './audio-choice.js';
import { once } from './callback-once.js';
import { hapEnums, type HapEnums } from './hap-enums.js';
import type { RawVideoInfo } from './hap-request-types.js';
import { keyAndSalt, mapAudio, mapVideo } from './request-mapping.js';
import { StreamSession } from './stream-session.js';
import { chooseVideoMode, type CameraStreamInfo } from './video-mode.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';

export interface DelegateTimings {
  /** No RTCP from the viewer for this long ends the session (phone left Wi-Fi). */
  viewerTimeoutMs: number;
  /** How long a START may wait for the camera's first keyframe. */
  startTimeoutMs: number;
  /** Auto mode: copy that yields no frame in this time falls back to transcoding. */
  copyFallbackMs: number;
  /** A prepared session never started is released after this. */
  prepareTimeoutMs: number;
}

export interface StreamingDelegateInit {
  api: API['hap'];
  camera: CameraConfig;
  ffmpegPath: string;
  encoders: ReadonlySet<string>;
  ffmpegFeatures?: FfmpegFeatures;
  /** The main stream's feed. */
  source: SharedSource;
  /** The camera's streams when it has substreams: each viewer's stream is then chosen at START. */
  streams?: CameraStreams;
  snapshots: SnapshotService;
  log: Log;
  redact: (text: string) => string;
  timings: DelegateTimings;
  streamInfo: () => CameraStreamInfo | undefined;
  onViewers: (count: number) => void;
  onFirstFrame: (ms: number) => void;
  /** Damage messages from the viewers' FFmpegs (see decode-evidence.ts). */
  onDecodeEvidence?: (count: number) => void;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class StreamingDelegate implements CameraStreamingDelegate {
  controller: CameraController | undefined;
  private readonly enums: HapEnums;
  private readonly sessions = new Map<string, StreamSession>();
  private readonly prepareTimers = new Map<string, NodeJS.Timeout>();
  /** Sessions whose SetupEndpoints is still being handled, and whether a STOP came for them meanwhile. */
  private readonly preparing = new Map<string, { stopped: boolean }>();
  /** Streams whose copy gave no frames (auto mode): transcoded from then on. */
  private readonly copyFailed = new Set<string>();
  private audioWarned = false;
  private closed = false;

  constructor(private readonly init: StreamingDelegateInit) {
    this.enums = hapEnums(init.api);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  handleSnapshotRequest(request: SnapshotRequest, callback: SnapshotRequestCallback): void {
    const done = once(callback);
    const { width, height } = request;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width > 3840 || height > 2160) {
      done(new Error(`snapshot size ${String(width)}x${String(height)} is out of range`));
      return;
    }
    fireAndForget(this.init.log, 'snapshot', this.init.snapshots.get(width, height).then(
      (snapshot) => done(undefined, snapshot.jpeg),
      (error: unknown) => {
        this.init.log.warn(`snapshot failed: ${this.init.redact(error instanceof Error ? error.message : String(error))}`);
        done(error instanceof Error ? error : new Error(String(error)));
      },
    ));
  }

  prepareStream(request: PrepareStreamRequest, callback: PrepareStreamCallback): void {
    const done = once(callback);
    fireAndForget(this.init.log, 'stream setup', this.prepare(request).then(
      (response) => done(undefined, response),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.init.log.warn(`stream setup refused: ${message}`);
        done(error instanceof Error ? error : new Error(message));
      },
    ));
  }

  private async prepare(request: PrepareStreamRequest): Promise<Parameters<PrepareStreamCallback>[1]> {
    if (this.closed) throw new Error('the camera is shutting down');
    // HAP-NodeJS turns any session id bytes into a string: a 3-byte id arrives as "010203----".
    if (!SESSION_ID.test(request.sessionID)) throw new Error('the session id is not a 16-byte UUID');
    const suite = this.enums.SRTPCryptoSuites.AES_CM_128_HMAC_SHA1_80;
    if (request.video.srtpCryptoSuite !== suite || request.audio.srtpCryptoSuite !== suite) throw new Error('only AES_CM_128_HMAC_SHA1_80 SRTP is supported');
    const videoKey = keyAndSalt(request.video.srtp_key, request.video.srtp_salt);
    const audioKey = keyAndSalt(request.audio.srtp_key, request.audio.srtp_salt);
    if (!videoKey || !audioKey) throw new Error('SRTP key or salt has the wrong length');
    const validPort = (p: number): boolean => Number.isInteger(p) && p > 0 && p < 65_536;
    if (!validPort(request.video.port) || !validPort(request.audio.port)) throw new Error('invalid RTP port');
    if (isIP(request.targetAddress) === 0 || isIP(request.sourceAddress) === 0) throw new Error('invalid address');
    // Only a request that is valid may push out an orphaned prepared session.
    const pending = { stopped: false };
    this.preparing.set(request.sessionID, pending);
    try {
      return await this.prepareValid(request, videoKey, audioKey, pending);
    } finally {
      if (this.preparing.get(request.sessionID) === pending) this.preparing.delete(request.sessionID);
    }
  }

  private async prepareValid(request: PrepareStreamRequest, videoKey: Buffer, audioKey: Buffer, pending: { stopped: boolean }): Promise<Parameters<PrepareStreamCallback>[1]> {
    const old = this.sessions.get(request.sessionID);
    if (old) await old.end('set-up-again');
    if (this.sessions.size >= this.init.camera.maxStreams) await this.evictOrphan();

    const streams = this.init.streams?.multiple === true ? this.init.streams : undefined;
    let pick: FeedPick | undefined;
    const session = await StreamSession.prepare({
      id: `[${request.sessionID.slice(0, 8)}]`,
      ffmpegPath: this.init.ffmpegPath,
      source: streams ? undefined : this.init.source,
      chooseFeed: async (video, signal) => {
        if (!streams) return { source: this.init.source, note: '' };
        pick = await streams.viewerFeed({ width: video.width, height: video.height }, this.init.camera.video.mode, signal, this.copyFailed);
        return { source: pick.source, note: pick.note };
      },
      log: this.init.log,
      redact: this.init.redact,
      encoder: this.init.camera.video.encoder,
      copySender: this.init.camera.video.copySender,
      ffmpegFeatures: this.init.ffmpegFeatures,
      mode: (video, feed) => ({
        ...chooseVideoMode({
          configured: this.init.camera.video.mode,
          feed: feed.streamInfo,
          // The health probe describes the main stream; a substream has its own start-up probe.
          probe: pick && pick.stream !== MAIN_STREAM ? pick.probe : this.init.streamInfo() ?? pick?.probe,
          copyFailedBefore: this.copyFailed.has(pick?.stream ?? MAIN_STREAM),
          request: { width: video.width, height: video.height, profile: video.profile, level: video.level },
          sizeChosen: pick?.sizeChosen === true,
        }),
        auto: this.init.camera.video.mode === 'auto',
      }),
      onCopyFailed: () => { this.copyFailed.add(pick?.stream ?? MAIN_STREAM); },
      audio: (requested, feed) => {
        const choice = chooseAudio(this.init.camera.audio, requested, this.init.encoders, feed.hasAudio);
        if (choice && 'skip' in choice) {
          if (!this.audioWarned) this.init.log.warn(`audio dropped, video continues: ${choice.skip}`);
          this.audioWarned = true;
        }
        return choice;
      },
      viewerTimeoutMs: this.init.timings.viewerTimeoutMs,
      startTimeoutMs: this.init.timings.startTimeoutMs,
      copyFallbackMs: this.init.timings.copyFallbackMs,
      onFirstFrame: (ms) => this.init.onFirstFrame(ms),
      onDecodeEvidence: (count) => this.init.onDecodeEvidence?.(count),
      onSelfEnded: () => this.controller?.forceStopStreamingSession(request.sessionID),
      onEnded: () => {
        if (this.sessions.get(request.sessionID) === session) this.sessions.delete(request.sessionID);
        this.init.onViewers(this.sessions.size);
      },
    }, {
      address: request.targetAddress,
      localAddress: request.sourceAddress,
      family: request.addressVersion,
      videoPort: request.video.port,
      audioPort: request.audio.port,
      videoKeyAndSalt: videoKey,
      audioKeyAndSalt: audioKey,
    });
    if (pending.stopped || this.closed) {
      await session.end(pending.stopped ? 'stopped-by-homekit' : 'closed', pending.stopped ? 'stopped by HomeKit during setup' : undefined);
      throw new Error(pending.stopped ? 'stopped during setup' : 'the camera is shutting down');
    }
    this.sessions.set(request.sessionID, session);
    this.init.onViewers(this.sessions.size);
    const timer = setTimeout(() => {
      this.prepareTimers.delete(request.sessionID);
      fireAndForget(this.init.log, 'ending a never-started session', session.end('never-started'));
    }, this.init.timings.prepareTimeoutMs);
    timer.unref();
    this.prepareTimers.set(request.sessionID, timer);
    return {
      video: { port: session.videoRtcp.port, ssrc: session.ssrcVideo, srtp_key: request.video.srtp_key, srtp_salt: request.video.srtp_salt },
      audio: { port: session.audioRtcp.port, ssrc: session.ssrcAudio, srtp_key: request.audio.srtp_key, srtp_salt: request.audio.srtp_salt },
    };
  }

  handleStreamRequest(request: StreamingRequest, callback: StreamRequestCallback): void {
    const done = once(callback);
    try {
      const session = this.sessions.get(request.sessionID);
      const type = request.type as string;
      if (type === this.enums.StreamRequestTypes.STOP) {
        this.clearPrepareTimer(request.sessionID);
        const pending = this.preparing.get(request.sessionID);
        if (pending) pending.stopped = true;
        if (session) fireAndForget(this.init.log, 'stream stop', session.end('stopped-by-homekit'));
        done();
        return;
      }
      if (!session || !session.active) {
        done(new Error('unknown stream session'));
        return;
      }
      if (type === this.enums.StreamRequestTypes.START && 'audio' in request) {
        const video = mapVideo(this.enums, this.init.camera, request.video);
        const audio = mapAudio(this.enums, request.audio);
        if (!video.ok || !audio.ok) {
          const error = !video.ok ? video.error : !audio.ok ? audio.error : 'invalid request';
          this.init.log.warn(`stream start refused: ${error}`);
          fireAndForget(this.init.log, 'ending a refused session', session.end('refused', `refused: ${error}`));
          done(new Error(error));
          return;
        }
        this.clearPrepareTimer(request.sessionID);
        session.start(video.value, audio.value);
        done();
        return;
      }
      if (type === this.enums.StreamRequestTypes.RECONFIGURE && 'video' in request) {
        const v = request.video as unknown as Partial<RawVideoInfo>;
        const mapped = mapVideo(this.enums, this.init.camera, { profile: -1, level: -1, pt: 99, mtu: 1378, rtcp_interval: 0.5, max_bit_rate: 0, width: 0, height: 0, fps: 0, ...v });
        if (mapped.ok) session.reconfigure(mapped.value);
        done();
        return;
      }
      done(new Error(`unsupported stream request ${type}`));
    } catch (error) {
      // Never let a malformed request escape into HAP-NodeJS.
      done(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Ends every session (camera removed or shutdown); resolves when their FFmpegs are gone. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.prepareTimers.values()) clearTimeout(timer);
    this.prepareTimers.clear();
    await Promise.all([...this.sessions.values()].map((s) => s.end('closed')));
  }

  /**
   * HAP-NodeJS keeps one session per stream service (maxStreams services) and answers BUSY itself
   * when a service is in use, so a full map here means it dropped a prepared session without a STOP:
   * it does that when it cannot parse a START (unknown audio codec, truncated TLV). Such an orphan
   * would hold a viewer slot and two UDP ports until the prepare timeout; end the oldest session
   * that never started instead of refusing the new viewer.
   */
  private async evictOrphan(): Promise<void> {
    for (const id of [...this.prepareTimers.keys()]) {
      this.clearPrepareTimer(id);
      const session = this.sessions.get(id);
      if (!session) continue;
      await session.end('evicted');
      return;
    }
    throw new Error(`already ${this.sessions.size} viewers (maxStreams)`);
  }

  private clearPrepareTimer(sessionID: string): void {
    clearTimeout(this.prepareTimers.get(sessionID));
    this.prepareTimers.delete(sessionID);
  }
}
