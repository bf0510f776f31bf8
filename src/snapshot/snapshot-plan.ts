/**
 * How to take a snapshot from a cached GOP inside one deadline. Pure.
 *
 * The freshest picture is the GOP's newest frame, but reaching it means decoding every frame from
 * the keyframe on: with a 10 s GOP at 25 fps that is 250 frames, seconds on a small machine. When
 * that would not fit comfortably in the time left, decode only the keyframe (up to one GOP old, but
 * a picture within HomeKit's 5 s beats none).
 */

/** Guess before any snapshot was measured: ~1080p software decode on a Raspberry Pi 4. */
export const DEFAULT_DECODE_MS_PER_FRAME = 10;
/** Fixed cost of one snapshot FFmpeg (start, probe, JPEG encode), on top of decoding. */
export const SNAPSHOT_OVERHEAD_MS = 400;

export interface SnapshotPlan {
  /** Frames to decode and drop before the one encoded. */
  skipFrames: number;
  why: 'newest frame' | 'keyframe only';
}

export function planSnapshot(frames: number, remainingMs: number, msPerFrame = DEFAULT_DECODE_MS_PER_FRAME): SnapshotPlan {
  const newest = Math.max(0, Math.floor(frames) - 1);
  // Use at most half of what is left for decoding: the machine may be busier than when measured.
  const fits = SNAPSHOT_OVERHEAD_MS + (newest + 1) * msPerFrame <= remainingMs / 2;
  return newest > 0 && !fits ? { skipFrames: 0, why: 'keyframe only' } : { skipFrames: newest, why: 'newest frame' };
}

/** Decode cost per frame learned from a finished snapshot (smoothed, bounded). */
export function learnDecodeCost(previous: number, elapsedMs: number, framesDecoded: number): number {
  if (framesDecoded < 5) return previous; // the fixed overhead dominates: nothing to learn
  const sample = Math.max(0, elapsedMs - SNAPSHOT_OVERHEAD_MS) / framesDecoded;
  const next = previous * 0.7 + sample * 0.3;
  return Math.min(200, Math.max(0.5, next));
}
