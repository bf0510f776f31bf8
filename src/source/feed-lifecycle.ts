/**
 * What the shared camera feed does when its FFmpeg exits. Pure.
 *
 * An idle stop is issued with no holder left, so nothing attached to the dying FFmpeg at that moment:
 * a hold or attach that arrives while it dies belongs to the *next* feed. Its exit therefore ends
 * nobody and starts that next feed at once (a camera allowing one session would refuse a second one
 * opened while the first is still closing). A running feed that fails ends everyone attached to it.
 */

export interface FeedExit {
  /** The exit of a feed we had already retired (an idle stop or close in flight), not of the live one. */
  retired: boolean;
  /** It ended on its own or stalled, rather than being stopped by us. */
  failed: boolean;
  /** The source is closed for good. */
  closed: boolean;
  /** Holds on the source at the moment of the exit. */
  holds: number;
}

export interface FeedExitPlan {
  /** Tell the attached consumers and snapshot waiters that their feed ended. */
  endAttached: boolean;
  /** start: a fresh feed now; backoff: a fresh feed after the retry delay; none: stay off. */
  next: 'start' | 'backoff' | 'none';
}

export function planFeedExit(exit: FeedExit): FeedExitPlan {
  if (exit.closed) return { endAttached: true, next: 'none' };
  if (exit.retired) return { endAttached: false, next: exit.holds > 0 ? 'start' : 'none' };
  if (exit.holds === 0) return { endAttached: true, next: 'none' };
  return { endAttached: true, next: exit.failed ? 'backoff' : 'start' };
}
