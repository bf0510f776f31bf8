/**
 * Pure health state machine: (previous state, symptom, now) → next state, with hysteresis so one
 * lost probe does not flap Home Assistant automations, while hard evidence (401/403/404/461, a stall
 * that persists) is reported at once and a camera that answers again is online on the next probe.
 */
import type {
  HealthPolicy,
  HealthReason,
  HealthState,
  HealthVideo,
  ProbeFailureReason,
  ProbeVideoInfo,
  Symptom,
} from './health-types.js';

export const DEFAULT_HEALTH_POLICY: Readonly<HealthPolicy> = Object.freeze({
  probeIntervalSeconds: 10,
  failuresBeforeOffline: 2,
  retryBaseMs: 2_000,
  // 10 s, not the usual 60 s: "back online within 15 s of answering" needs the worst-case wait
  // (one offline delay) plus one probe round trip (well under a second for an answering camera)
  // to stay below 15 s. Jitter is clamped so it never pushes a delay above this cap.
  offlineProbeCapMs: 10_000,
  jitterRatio: 0.2,
  stallOfflineMs: 10_000,
  lowFpsRatio: 0.5,
  minFps: 0,
  // A lost packet costs 2-3 messages (the slice, the concealed picture, the feed's RTP loss), so 10
  // in 10 s is a picture visibly smeared every few seconds, not one glitch; it takes a calm window
  // (at most 2) to recover, so a camera hovering at the threshold does not flap.
  decodeErrorWindowMs: 10_000,
  decodeErrorsToDegrade: 10,
  decodeErrorsToRecover: 2,
  qualityGraceMs: 10_000,
  degradeAfterSamples: 2,
  recoverAfterSamples: 2,
});

/** The camera refuses us for a reason retries will not fix (password, path): no hysteresis. */
export function isHardFailure(reason: HealthReason | null): boolean {
  return reason === 'unauthorized' || reason === 'forbidden' || reason === 'not_found' || reason === 'unsupported_transport';
}

/** Reasons only a running stream can judge (and only a running stream can clear). */
function isQualityReason(reason: HealthReason | null): boolean {
  return reason === 'low_fps' || reason === 'decode_errors';
}

export function probeReasonToHealth(reason: ProbeFailureReason): HealthReason {
  return reason === 'timeout' ? 'unreachable' : reason;
}

export function initialHealth(nowMs: number): HealthState {
  return {
    state: 'starting',
    reason: null,
    since: nowMs,
    checkedAt: 0,
    consecutiveFailures: 0,
    video: null,
    viewers: 0,
    fps: null,
    bitrateKbps: null,
    restarts: 0,
    lastError: null,
    timeToFirstFrameMs: null,
    streaming: false,
    streamStartedAt: null,
    stalledSince: null,
    decodeErrorsSeen: 0,
    decodeErrorWindow: [],
    framesSeen: 0,
    badSamples: 0,
    goodSamples: 0,
  };
}

/** Decode errors within the reducer's window, as of the last stats sample. */
export function decodeErrorsInWindow(state: Pick<HealthState, 'decodeErrorWindow'>): number {
  return state.decodeErrorWindow.reduce((sum, sample) => sum + sample.count, 0);
}

function moveTo(s: HealthState, state: HealthState['state'], reason: HealthReason | null, nowMs: number): HealthState {
  if (s.state === state && s.reason === reason) return s;
  return { ...s, state, reason, since: s.state === state ? s.since : nowMs };
}

/** A live stream is delivering frames right now: stronger evidence than any probe. */
function streamIsLive(s: HealthState): boolean {
  return s.streaming && s.stalledSince === null && s.framesSeen > 0;
}

/** Frames arrived: whatever kept the camera from `online` is over, except stream quality issues. */
function proofOfLife(s: HealthState, nowMs: number): HealthState {
  const cleared: HealthState = { ...s, consecutiveFailures: 0, stalledSince: null };
  if (cleared.state === 'degraded' && isQualityReason(cleared.reason)) return cleared;
  return moveTo(cleared, 'online', null, nowMs);
}

/** Degraded at once; offline once the stall has lasted `stallOfflineMs`. Offline stays offline. */
function escalateStall(s: HealthState, nowMs: number, policy: HealthPolicy): HealthState {
  if (s.state === 'offline') return s;
  const stalledFor = nowMs - (s.stalledSince ?? nowMs);
  return stalledFor >= policy.stallOfflineMs ? moveTo(s, 'offline', 'stalled', nowMs) : moveTo(s, 'degraded', 'stalled', nowMs);
}

function mergeVideo(prev: HealthVideo | null, next: ProbeVideoInfo): HealthVideo {
  // The SDP may omit the size/rate; keep what an earlier probe or the live stream found.
  const same = prev !== null && prev.codec === next.codec;
  return {
    codec: next.codec,
    width: next.width ?? (same ? prev.width : null),
    height: next.height ?? (same ? prev.height : null),
    fps: next.fps ?? (same ? prev.fps : null),
  };
}

function endStream(s: HealthState): HealthState {
  return {
    ...s,
    streaming: false,
    streamStartedAt: null,
    stalledSince: null,
    fps: null,
    bitrateKbps: null,
    decodeErrorWindow: [],
    badSamples: 0,
    goodSamples: 0,
  };
}

function isLowFps(fps: number, expected: number | null | undefined, policy: HealthPolicy): boolean {
  if (expected !== null && expected !== undefined && expected > 0) return fps < expected * policy.lowFpsRatio;
  return policy.minFps > 0 && fps < policy.minFps;
}

function onStats(prev: HealthState, sym: Extract<Symptom, { type: 'stream-stats' }>, nowMs: number, policy: HealthPolicy): HealthState {
  const advanced = sym.frames > prev.framesSeen;
  // The counter only grows; a smaller value means its owner restarted, and all of it is new.
  const newErrors = sym.decodeErrors >= prev.decodeErrorsSeen ? sym.decodeErrors - prev.decodeErrorsSeen : sym.decodeErrors;
  const windowStart = nowMs - policy.decodeErrorWindowMs;
  const decodeErrorWindow = [
    ...prev.decodeErrorWindow.filter((sample) => sample.at > windowStart),
    ...(newErrors > 0 ? [{ at: nowMs, count: newErrors }] : []),
  ];
  const video: HealthVideo | null =
    sym.width !== undefined && sym.height !== undefined && sym.width > 0 && sym.height > 0
      ? { codec: prev.video?.codec ?? 'unknown', fps: prev.video?.fps ?? null, width: sym.width, height: sym.height }
      : prev.video;
  const s: HealthState = {
    ...prev,
    checkedAt: nowMs,
    streaming: true,
    streamStartedAt: prev.streamStartedAt ?? nowMs,
    fps: sym.fps,
    bitrateKbps: sym.bitrateKbps,
    framesSeen: Math.max(prev.framesSeen, sym.frames),
    decodeErrorsSeen: sym.decodeErrors,
    decodeErrorWindow,
    video,
  };
  // No new frames: stall detection is the upstream watchdog's job; only escalate a known stall.
  if (!advanced) return s.stalledSince !== null ? escalateStall(s, nowMs, policy) : s;

  const alive = proofOfLife(s, nowMs);
  const inGrace = nowMs - (alive.streamStartedAt ?? nowMs) < policy.qualityGraceMs;
  const expected = sym.expectedFps ?? alive.video?.fps;
  const lowFps = !inGrace && isLowFps(sym.fps, expected, policy);
  const counted: HealthState = lowFps
    ? { ...alive, badSamples: alive.badSamples + 1, goodSamples: 0 }
    : { ...alive, badSamples: 0, goodSamples: alive.goodSamples + 1 };

  // Decode errors: a rate over the window, so one sample above the threshold is already evidence.
  const errors = decodeErrorsInWindow(counted);
  if (errors >= policy.decodeErrorsToDegrade) return moveTo(counted, 'degraded', 'decode_errors', nowMs);
  const fpsVerdict = lowFps && counted.badSamples >= policy.degradeAfterSamples;
  if (counted.state === 'degraded' && counted.reason === 'decode_errors') {
    if (errors > policy.decodeErrorsToRecover) return counted;
    return fpsVerdict ? moveTo(counted, 'degraded', 'low_fps', nowMs) : moveTo(counted, 'online', null, nowMs);
  }
  if (fpsVerdict) return moveTo(counted, 'degraded', 'low_fps', nowMs);
  if (!lowFps && counted.state === 'degraded' && counted.reason === 'low_fps' && counted.goodSamples >= policy.recoverAfterSamples) {
    return moveTo(counted, 'online', null, nowMs);
  }
  return counted;
}

export function reduceHealth(
  prev: HealthState,
  symptom: Symptom,
  nowMs: number,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): HealthState {
  switch (symptom.type) {
    case 'probe-ok': {
      const s: HealthState = { ...prev, checkedAt: nowMs, consecutiveFailures: 0, video: mergeVideo(prev.video, symptom.video) };
      // The camera answers RTSP, but a running stream that is stalled is still the better evidence.
      if (s.streaming && s.stalledSince !== null) return escalateStall(s, nowMs, policy);
      // Quality verdicts belong to the running stream; a probe cannot judge frame rate.
      if (s.streaming && s.state === 'degraded' && isQualityReason(s.reason)) return s;
      // Fast recovery: one answer is enough to leave offline (and to clear a failed-stream verdict).
      return moveTo(s, 'online', null, nowMs);
    }
    case 'probe-failed': {
      const reason = probeReasonToHealth(symptom.reason);
      // Single-session cameras refuse a second client: frames flowing beat a failed probe (and it
      // is not counted, so nextProbeDelayMs does not switch to quick re-checks against that camera).
      if (streamIsLive(prev)) return { ...prev, checkedAt: nowMs, lastError: symptom.message };
      const s: HealthState = { ...prev, checkedAt: nowMs, consecutiveFailures: prev.consecutiveFailures + 1, lastError: symptom.message };
      if (
        isHardFailure(reason) ||
        prev.state === 'offline' ||
        prev.stalledSince !== null || // stalled stream and an unanswered probe: the camera is gone
        s.consecutiveFailures >= policy.failuresBeforeOffline
      ) {
        return moveTo(s, 'offline', reason, nowMs);
      }
      // One miss is not evidence yet; nextProbeDelayMs re-checks quickly.
      return s;
    }
    case 'stream-started':
      return {
        ...endStream(prev),
        checkedAt: nowMs,
        streaming: true,
        streamStartedAt: nowMs,
        framesSeen: 0,
        // The new stream's window judges only what comes from now on.
        decodeErrorsSeen: Math.max(prev.decodeErrorsSeen, symptom.decodeErrors ?? 0),
      };
    case 'stream-first-frame':
      return proofOfLife(
        {
          ...prev,
          checkedAt: nowMs,
          streaming: true,
          streamStartedAt: prev.streamStartedAt ?? nowMs,
          timeToFirstFrameMs: symptom.timeToFirstFrameMs,
          framesSeen: Math.max(prev.framesSeen, 1),
        },
        nowMs,
      );
    case 'stream-stats':
      return onStats(prev, symptom, nowMs, policy);
    case 'stream-stalled': {
      const s: HealthState = {
        ...prev,
        checkedAt: nowMs,
        streaming: true,
        streamStartedAt: prev.streamStartedAt ?? nowMs,
        stalledSince: prev.stalledSince ?? nowMs,
      };
      return escalateStall(s, nowMs, policy);
    }
    case 'stream-ended': {
      const s: HealthState = { ...endStream(prev), checkedAt: nowMs };
      if (symptom.ok) {
        // Quality issues ended with their stream. A stall (degraded or offline) waits for a probe.
        return s.state === 'degraded' && isQualityReason(s.reason) ? moveTo(s, 'online', null, nowMs) : s;
      }
      const failed: HealthState = { ...s, consecutiveFailures: s.consecutiveFailures + 1, lastError: symptom.message };
      if (isHardFailure(symptom.reason)) return moveTo(failed, 'offline', symptom.reason, nowMs);
      // Already offline: keep the (usually more specific) probe reason.
      if (failed.state === 'offline') return failed;
      // FFmpeg can fail for our own reasons; the next probe decides whether the camera is down.
      return moveTo(failed, 'degraded', symptom.reason, nowMs);
    }
    case 'viewers':
      return prev.viewers === symptom.count ? prev : { ...prev, viewers: Math.max(0, Math.trunc(symptom.count)) };
    case 'restart':
      return { ...prev, restarts: prev.restarts + 1 };
  }
}

/**
 * Delay until the next probe. Online/degraded: the normal interval. After a first miss: a quick
 * re-check so an outage is confirmed within seconds. Offline: 2 s, 4 s, 8 s … capped at
 * `offlineProbeCapMs` (see DEFAULT_HEALTH_POLICY for why the cap is ~10 s); refusals (401/403/404)
 * go straight to the cap so we never hammer a camera that rejects our password.
 * Every delay gets ±`jitterRatio` jitter; offline delays are clamped to the cap after jitter.
 *
 * The delay counts from the *start* of the previous probe (a scheduler that waits for the probe to
 * finish should subtract the probe's `ms`). That keeps the worst case "camera answers again →
 * online" at cap + one round trip (~10 s), independent of how long the failing probes took to time out.
 */
export function nextProbeDelayMs(
  state: HealthState,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
  random: () => number = Math.random,
): number {
  const jitter = (ms: number): number => ms * (1 + policy.jitterRatio * (2 * random() - 1));
  const cap = Math.max(0, policy.offlineProbeCapMs);
  if (state.state === 'offline') {
    const stage = Math.max(0, state.consecutiveFailures - policy.failuresBeforeOffline);
    const base = isHardFailure(state.reason) ? cap : Math.min(cap, policy.retryBaseMs * 2 ** Math.min(stage, 30));
    return Math.round(Math.min(cap, Math.max(0, jitter(base))));
  }
  if (state.state === 'starting' && state.checkedAt === 0) return 0; // never probed: probe now
  const interval = policy.probeIntervalSeconds * 1000;
  const base = state.consecutiveFailures > 0 ? Math.min(policy.retryBaseMs, interval) : interval;
  return Math.round(Math.max(0, jitter(base)));
}
