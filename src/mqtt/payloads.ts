/**
 * MQTT payloads, pure: the health JSON, the simple status string, and incoming switch values.
 */
import { decodeErrorsInWindow } from '../health/health-reducer.js';
import type { HealthReason, HealthState, HealthStatus } from '../health/health-types.js';

export interface HealthPayload {
  state: HealthStatus;
  /**
   * The same as `state`, for Home Assistant: this JSON is also the connectivity entity's attributes,
   * and HA drops an attribute named `state`.
   */
  health: HealthStatus;
  reason: HealthReason | null;
  /** ISO 8601: when `state` last changed. */
  since: string;
  /** ISO 8601: the last probe/stream evidence behind this payload. */
  checkedAt: string;
  video: { codec: string; width: number | null; height: number | null; fps: number | null } | null;
  viewers: number;
  fps: number | null;
  bitrateKbps: number | null;
  restarts: number;
  /**
   * FFmpeg's damaged-video messages (decoder slice errors, concealed pictures, RTP loss; see
   * decode-evidence.ts) within the last health window (10 s): what `decode_errors` is judged on.
   */
  decodeErrors: number;
  /** The same messages since the plugin started. */
  decodeErrorsTotal: number;
  lastError: string | null;
  timeToFirstFrameMs: number | null;
}

/** Rounded so sub-unit jitter in FFmpeg's figures does not count as a change worth publishing. */
function round(value: number | null, decimals: number): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

function iso(ms: number, fallbackMs: number): string {
  const value = Number.isFinite(ms) && ms > 0 ? ms : fallbackMs;
  return new Date(value).toISOString();
}

/**
 * The JSON published on `<prefix>/<id>/health`. Only what is worth a retained update: the probe's
 * failure count is left out, since it changes at every probe of an offline camera. `nowMs` only stands in for timestamps that are
 * not known yet (a camera never checked), so identical states always give identical payloads.
 */
export function healthPayload(state: HealthState, nowMs: number): HealthPayload {
  return {
    state: state.state,
    health: state.state,
    reason: state.reason,
    since: iso(state.since, nowMs),
    checkedAt: iso(state.checkedAt, nowMs),
    video: state.video
      ? { codec: state.video.codec, width: state.video.width, height: state.video.height, fps: round(state.video.fps, 2) }
      : null,
    viewers: state.viewers,
    fps: round(state.fps, 1),
    bitrateKbps: round(state.bitrateKbps, 0),
    restarts: state.restarts,
    decodeErrors: decodeErrorsInWindow(state),
    decodeErrorsTotal: state.decodeErrorsSeen,
    lastError: state.lastError,
    timeToFirstFrameMs: round(state.timeToFirstFrameMs, 0),
  };
}

/**
 * The simple `<prefix>/<id>/status` value. Degraded counts as online (the camera streams, just
 * not well). `starting` returns null: nothing is published until the first verdict, so the
 * retained value from before a Homebridge restart stays until it is confirmed or corrected
 * (seconds later) instead of flapping every camera to offline on each restart.
 */
export function statusPayload(state: HealthState): 'online' | 'offline' | null {
  switch (state.state) {
    case 'online':
    case 'degraded':
      return 'online';
    case 'offline':
      return 'offline';
    case 'starting':
      return null;
  }
}

const TRUE_VALUES = new Set(['on', 'true', '1']);
const FALSE_VALUES = new Set(['off', 'false', '0']);

/** ON/OFF, true/false, 1/0 (any case, surrounding whitespace ignored); undefined for anything else. */
export function parseSwitchPayload(payload: string | Uint8Array): boolean | undefined {
  const text = (typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')).trim().toLowerCase();
  if (TRUE_VALUES.has(text)) return true;
  if (FALSE_VALUES.has(text)) return false;
  return undefined;
}
