/**
 * Types for a camera's stream health: the observable state published over MQTT, the symptoms that
 * drive it, and the tuning knobs. Pure data, no behaviour (see health-reducer.ts).
 */

export type HealthStatus = 'starting' | 'online' | 'degraded' | 'offline';

/** Why a camera is not simply `online`; `null` in the state when everything is fine. */
export type HealthReason =
  | 'unreachable' // connection refused / timed out
  | 'unauthorized' // RTSP 401
  | 'forbidden' // RTSP 403
  | 'not_found' // RTSP 404
  | 'no_video' // SDP without a video track
  | 'unsupported_transport' // RTSP 461: the camera refuses the configured rtspTransport (usually TCP)
  | 'stalled' // live stream stopped delivering frames
  | 'low_fps'
  | 'decode_errors'
  | 'ffmpeg_failed'
  | 'bad_response';

/** What the RTSP probe reports; `timeout` is folded into `unreachable` by the reducer. */
export type ProbeFailureReason =
  | 'unreachable'
  | 'timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'no_video'
  | 'unsupported_transport'
  | 'bad_response';

/** Video parameters as far as they are known (SDP/SPS from the probe, refined by the live stream). */
export interface HealthVideo {
  codec: string;
  width: number | null;
  height: number | null;
  fps: number | null;
}

/** Video info carried by a successful probe (from the SDP); missing fields stay unknown. */
export interface ProbeVideoInfo {
  codec: string;
  width?: number;
  height?: number;
  fps?: number;
}

export type Symptom =
  | { type: 'probe-ok'; video: ProbeVideoInfo }
  | { type: 'probe-failed'; reason: ProbeFailureReason; message: string }
  /**
   * `decodeErrors`: the camera's cumulative damage count as the stream starts. Evidence that came
   * while no stream ran (substream viewers, URL snapshots, the last feed's dying words) was never
   * sampled; without this baseline the new stream's first sample would count it all as its own.
   */
  | { type: 'stream-started'; decodeErrors?: number }
  | {
      type: 'stream-stats';
      fps: number;
      bitrateKbps: number;
      /** Frames decoded/forwarded so far by this stream (cumulative). */
      frames: number;
      /**
       * Damage messages from this camera's decoding FFmpegs (viewers, snapshots) and its feed, since
       * the plugin started (cumulative, see decode-evidence.ts; the reducer works on the increase).
       */
      decodeErrors: number;
      width?: number;
      height?: number;
      /** The rate this stream should deliver (e.g. the negotiated output fps); else the SDP fps. */
      expectedFps?: number;
    }
  | { type: 'stream-first-frame'; timeToFirstFrameMs: number }
  /** Emitted by the upstream stall watchdog; re-emit it while the stall lasts so it can escalate. */
  | { type: 'stream-stalled' }
  | { type: 'stream-ended'; ok: true }
  | { type: 'stream-ended'; ok: false; reason: HealthReason; message: string }
  | { type: 'viewers'; count: number }
  | { type: 'restart' };

export interface HealthState {
  state: HealthStatus;
  reason: HealthReason | null;
  /** When `state` last changed (epoch ms). A reason change within the same state keeps it. */
  since: number;
  /** When the last probe or stream symptom arrived (epoch ms). */
  checkedAt: number;
  /** Consecutive failed probes/streams; reset by any proof of life. */
  consecutiveFailures: number;
  video: HealthVideo | null;
  viewers: number;
  /** Live-stream metrics; null while no stream runs. */
  fps: number | null;
  bitrateKbps: number | null;
  restarts: number;
  /** Last error message, already redacted; kept after recovery as history. */
  lastError: string | null;
  timeToFirstFrameMs: number | null;

  // Bookkeeping the reducer needs for hysteresis. Published payloads leave these out.
  /** A live FFmpeg stream is running. */
  streaming: boolean;
  /** When the running stream started (epoch ms), for the quality grace period. */
  streamStartedAt: number | null;
  /** When the current stall began, or null when frames flow. */
  stalledSince: number | null;
  /** Cumulative decode errors at the last stats sample (published as `decodeErrorsTotal`). */
  decodeErrorsSeen: number;
  /** New decode errors per stats sample within the last `decodeErrorWindowMs` (non-zero samples only). */
  decodeErrorWindow: readonly DecodeErrorSample[];
  /** Frame counter at the last stats sample of this stream (to see whether frames advance). */
  framesSeen: number;
  /** Consecutive stats samples with a quality issue / without one. */
  badSamples: number;
  goodSamples: number;
}

export interface DecodeErrorSample {
  /** When the stats sample came (epoch ms). */
  at: number;
  count: number;
}

export interface HealthPolicy {
  /** Probe interval while online/degraded (the platform's `probeIntervalSeconds`). */
  probeIntervalSeconds: number;
  /** Consecutive probe failures before online → offline (auth errors skip this). */
  failuresBeforeOffline: number;
  /** First retry delay after a failure; doubles per further failure while offline. */
  retryBaseMs: number;
  /**
   * Upper bound of the probe delay while offline. Keep ≤ ~10 s: a camera that answers again must be
   * reported online within 15 s, i.e. within one offline delay plus one probe round trip.
   */
  offlineProbeCapMs: number;
  /** ± fraction of random jitter applied to every delay (spreads a fleet of cameras). */
  jitterRatio: number;
  /** A stall that lasts this long (since it was first reported) takes the camera offline. */
  stallOfflineMs: number;
  /** fps below this fraction of the SDP/expected fps counts as low. */
  lowFpsRatio: number;
  /** Fallback floor when the expected fps is unknown; fps below it counts as low (0 disables). */
  minFps: number;
  /** The window decode errors are counted over. */
  decodeErrorWindowMs: number;
  /** This many decode errors within the window: degraded (decode_errors) at once. */
  decodeErrorsToDegrade: number;
  /** Degraded for decode errors until the window holds no more than this many (hysteresis). */
  decodeErrorsToRecover: number;
  /** FFmpeg reports fps averaged since start, which ramps up: no low-fps verdicts before this. */
  qualityGraceMs: number;
  /** Consecutive bad stats samples before online → degraded. */
  degradeAfterSamples: number;
  /** Consecutive good stats samples before degraded (quality) → online. */
  recoverAfterSamples: number;
}
