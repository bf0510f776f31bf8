/**
 * Riding out a camera drop: after the shared feed failed under a viewer, wait (holding the feed, so
 * it restarts with its backoff) for the restarted feed's first keyframe, up to a grace period.
 * Camera reboots, Wi-Fi blips and cameras that reset their RTSP sessions every few hours (Reolink)
 * fit in 15 s; past that the viewer is told the camera is gone.
 */
import type { SharedSource } from '../source/shared-source.js';

export const DROP_GRACE_MS = 15_000;
const RETRY_PAUSE_MS = 250;

export type FeedDropOutcome = { back: true } | { back: false; reason: string };

export async function waitForFeedBack(source: SharedSource, graceMs: number, signal: AbortSignal, why: string): Promise<FeedDropOutcome> {
  const deadline = performance.now() + graceMs;
  while (!signal.aborted) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    try {
      await source.waitForGop(left, signal);
      return { back: true };
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof Error && 'reason' in error && error.reason === 'closed') return { back: false, reason: 'the camera is shutting down' };
      // A restart attempt that failed again: the source retries on its own backoff; look again shortly.
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, Math.max(0, deadline - performance.now()))));
    }
  }
  return { back: false, reason: `camera feed gone for over ${Math.round(graceMs / 1000)} s (${why})` };
}
