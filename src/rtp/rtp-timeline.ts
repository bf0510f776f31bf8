/**
 * Maps the feed's 90 kHz PTS to one viewer's RTP timestamps. Three rules:
 *
 * - Each viewer starts at its own random base (RFC 3550 §5.1), so nothing about the feed leaks and
 *   two viewers never share a timeline.
 * - GOP burst: a joiner gets the cached GOP (up to a few seconds of frames) in one go, at the live
 *   edge's wall time. A player that paces by RTP timestamps would show those frames at their original
 *   rate and stay that far behind live for the whole session. So the burst's PTS range [first, last]
 *   is squeezed linearly to ~1 ms per frame: the player runs through the burst at once (the picture
 *   appears, then catches up) and the first live frame follows at its true spacing from the last
 *   cached one. Linear, so B-frame order inside the burst is kept.
 * - A feed restart (camera reboot, reconnect) starts a new PTS clock: the next frame is placed after
 *   the last one sent by the wall time that passed, so timestamps stay monotonic and continuous.
 */

const PTS_WRAP = 2 ** 33;
const RTP_WRAP = 2 ** 32;
/** Timestamp spacing of compressed burst frames: 1 ms of the 90 kHz clock. */
export const BURST_TICKS_PER_FRAME = 90;

export interface Burst {
  /** PTS of the burst's first (key) frame. */
  firstPts: number;
  /** Highest PTS in the burst. */
  lastPts: number;
  frames: number;
}

/** Signed distance b − a on the 33-bit PTS circle. */
export function ptsDelta(a: number, b: number): number {
  let d = (b - a) % PTS_WRAP;
  if (d < 0) d += PTS_WRAP;
  return d >= PTS_WRAP / 2 ? d - PTS_WRAP : d;
}

export class RtpTimeline {
  /** Unwrapped output time (ticks since the base), so arithmetic stays exact over long sessions. */
  private anchorPts: number | undefined;
  private anchorOut = 0;
  private burst: { firstPts: number; lastPts: number; scale: number; startOut: number } | undefined;
  private lastOut = 0;
  private lastWallMs: number | undefined;
  private restarted = false;

  constructor(private readonly base: number) {}

  /** Declare the next frames a burst (call before mapping the first of them). */
  startBurst(burst: Burst, nowMs: number): void {
    const span = Math.max(0, ptsDelta(burst.firstPts, burst.lastPts));
    const compressed = Math.max(0, burst.frames - 1) * BURST_TICKS_PER_FRAME;
    const scale = span > compressed ? compressed / span : 1;
    const startOut = this.anchorPts === undefined ? 0 : this.nextAfterGap(nowMs);
    this.burst = { firstPts: burst.firstPts, lastPts: burst.lastPts, scale, startOut };
    this.anchorPts = burst.lastPts;
    this.anchorOut = startOut + Math.round(span * scale);
    this.restarted = false;
  }

  /** The feed's clock restarted: the next frame is placed by wall time after the last one sent. */
  restart(): void {
    this.restarted = true;
  }

  /** RTP timestamp (32 bits) for a frame with this PTS, sent now. */
  map(pts: number, nowMs: number): number {
    let out: number;
    const burst = this.burst;
    if (burst && ptsDelta(burst.firstPts, pts) >= 0 && ptsDelta(pts, burst.lastPts) >= 0) {
      out = burst.startOut + Math.round(ptsDelta(burst.firstPts, pts) * burst.scale);
    } else {
      if (this.anchorPts === undefined || this.restarted) {
        this.anchorOut = this.anchorPts === undefined ? 0 : this.nextAfterGap(nowMs);
        this.anchorPts = pts;
        this.restarted = false;
        this.burst = undefined;
      }
      out = this.anchorOut + ptsDelta(this.anchorPts, pts);
    }
    this.lastOut = Math.max(this.lastOut, out);
    this.lastWallMs = nowMs;
    return (this.base + out) % RTP_WRAP;
  }

  private nextAfterGap(nowMs: number): number {
    const gapMs = this.lastWallMs === undefined ? 1 : Math.max(1, nowMs - this.lastWallMs);
    return this.lastOut + Math.round(gapMs * 90);
  }
}
