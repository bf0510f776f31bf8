/** Names Homebridge knows us by, and tunables, each with the reason for its value. */

export const PLUGIN_NAME = 'homebridge-cctv';
export const PLATFORM_NAME = 'CCTV';

/** Seeds accessory UUIDs together with the camera id; changing it would re-create every camera. */
export const UUID_NAMESPACE = 'homebridge-cctv:camera:';

export const TIMINGS = {
  /** iOS sends RTCP every 0.5 s; 10 s of silence means the viewer is gone (left Wi-Fi, app killed). */
  viewerTimeoutMs: 10_000,
  /** Wait this long for the camera's first keyframe on START; longer than any sane GOP (≤ 8 s). */
  startTimeoutMs: 12_000,
  /** Auto mode falls back to transcoding when copy gives nothing for this long after START. */
  copyFallbackMs: 6_000,
  /** HomeKit sends START within a second of SetupEndpoints; a session never started is released. */
  prepareTimeoutMs: 30_000,
  /** HAP-NodeJS warns about slow snapshot handlers after 5 s. */
  snapshotBudgetMs: 4_500,
  /** Repeated snapshot polls within this window get the same picture instead of a new FFmpeg. */
  snapshotFreshMs: 1_000,
  /**
   * A viewer of a camera with substreams waits at most this long for the start-up probes of its
   * streams (one DESCRIBE each) before choosing from what is known (main, or a size hint).
   */
  streamProbeWaitMs: 3_000,
  /** The feed is considered stalled after this long without bytes (then restarted). */
  stallMs: 5_000,
  /** Hard cap on one HomeKit Secure Video clip: hubs have been seen never closing a stream. */
  recordingMaxMs: 180_000,
  /** A recording fragment later than fragment length + this counts as a stall (hubs give up near 5 s). */
  recordingFragmentSlackMs: 4_000,
} as const;
