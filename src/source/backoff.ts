/** Staged, capped, jittered retry delays: quick first retries for a blip, slow ones for a dead camera. */

export interface BackoffPolicy {
  stagesMs: readonly number[];
  /** ±fraction of the delay, so many cameras behind one switch do not retry in lockstep. */
  jitter: number;
}

// Capped at 10 s so a camera that comes back is streaming again within the 15 s health bound.
export const DEFAULT_BACKOFF: BackoffPolicy = { stagesMs: [500, 1000, 2000, 4000, 8000, 10_000], jitter: 0.2 };

/** Delay before retry number `attempt` (0-based); `random` in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = 0.5): number {
  const stages = policy.stagesMs;
  const base = stages[Math.min(Math.max(0, attempt), stages.length - 1)] ?? 1000;
  return Math.round(base * (1 + policy.jitter * (2 * random - 1)));
}
