/**
 * Lockout-safe logins. Hikvision and Dahua lock an account after about five failed logins, and a
 * locked camera stays dark even once the password is fixed. So after the camera has rejected our
 * credentials, every login (health probe and camera feed together) goes through this policy: the
 * first `freeAttempts` rejections come as they come, after that at most one attempt per `intervalMs`.
 * Pure: state in, state out; the clock is passed in. Nothing is persisted, so a restart (after the
 * password was fixed) tries again at once.
 */

export interface LoginPolicy {
  /** Rejected logins tolerated before attempts are spaced out. */
  freeAttempts: number;
  /** Spacing between attempts once `freeAttempts` rejections were seen. */
  intervalMs: number;
}

export const DEFAULT_LOGIN_POLICY: Readonly<LoginPolicy> = Object.freeze({ freeAttempts: 2, intervalMs: 5 * 60_000 });

export interface LoginState {
  /** Consecutive rejected logins (reset by one accepted login). */
  readonly rejections: number;
  /** When the latest attempt began (ms, caller's clock); undefined before the first. */
  readonly lastAttemptAt: number | undefined;
  /** Attempts begun and not yet ended. */
  readonly inFlight: number;
}

export const INITIAL_LOGIN_STATE: LoginState = Object.freeze({ rejections: 0, lastAttemptAt: undefined, inFlight: 0 });

export type LoginOutcome = 'accepted' | 'rejected' | 'unknown';

export type LoginDecision = { allow: true } | { allow: false; retryInMs: number };

/** May a login be attempted now? */
export function mayAttempt(state: LoginState, nowMs: number, policy: LoginPolicy = DEFAULT_LOGIN_POLICY): LoginDecision {
  // No rejection known: the credentials are presumed good; never hold back a healthy camera.
  if (state.rejections === 0) return { allow: true };
  // Rejected before, but still within the free attempts: one at a time, so two parties cannot
  // both spend the last free attempt.
  if (state.rejections < policy.freeAttempts) return state.inFlight === 0 ? { allow: true } : { allow: false, retryInMs: 1000 };
  const since = nowMs - (state.lastAttemptAt ?? Number.NEGATIVE_INFINITY);
  if (state.inFlight === 0 && since >= policy.intervalMs) return { allow: true };
  return { allow: false, retryInMs: Math.max(1000, policy.intervalMs - since) };
}

export function attemptBegan(state: LoginState, nowMs: number): LoginState {
  return { ...state, lastAttemptAt: nowMs, inFlight: state.inFlight + 1 };
}

export interface AttemptEnded {
  state: LoginState;
  /** This rejection is the one that starts spacing attempts out: say once what to fix. */
  lockoutStarted: boolean;
}

export function attemptEnded(state: LoginState, outcome: LoginOutcome, policy: LoginPolicy = DEFAULT_LOGIN_POLICY): AttemptEnded {
  const inFlight = Math.max(0, state.inFlight - 1);
  if (outcome === 'accepted') return { state: { ...state, rejections: 0, inFlight }, lockoutStarted: false };
  if (outcome === 'unknown') return { state: { ...state, inFlight }, lockoutStarted: false };
  const rejections = state.rejections + 1;
  return { state: { ...state, rejections, inFlight }, lockoutStarted: rejections === policy.freeAttempts };
}
