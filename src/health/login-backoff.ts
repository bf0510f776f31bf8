/**
 * Lockout-safe logins. Hikvision and Dahua lock an account after about five failed logins, so after
 * the camera rejects the password, the probe and the feed *together* get two attempts, then one per
 * interval (5 minutes), until a login succeeds or Homebridge restarts. Pure policy plus a tiny gate
 * that holds the shared state; not wired into the probe and feed yet.
 */

export interface LoginBackoffPolicy {
  /** Attempts allowed right after the first rejection, before spacing starts. */
  freeAttempts: number;
  intervalMs: number;
}

export const DEFAULT_LOGIN_BACKOFF: LoginBackoffPolicy = Object.freeze({ freeAttempts: 2, intervalMs: 5 * 60_000 });

export interface LoginState {
  /** Rejected logins since the last success. */
  rejections: number;
  /** When the last attempt was allowed (ms), undefined before any. */
  lastAttemptAt: number | undefined;
}

export type LoginDecision = { allow: true } | { allow: false; retryInMs: number };

export function loginDecision(state: LoginState, now: number, policy: LoginBackoffPolicy = DEFAULT_LOGIN_BACKOFF): LoginDecision {
  if (state.rejections < policy.freeAttempts || state.lastAttemptAt === undefined) return { allow: true };
  const wait = state.lastAttemptAt + policy.intervalMs - now;
  return wait <= 0 ? { allow: true } : { allow: false, retryInMs: wait };
}

/** One per camera, shared by probe and feed. */
export class LoginGate {
  private state: LoginState = { rejections: 0, lastAttemptAt: undefined };
  private warned = false;

  constructor(
    private readonly policy: LoginBackoffPolicy = DEFAULT_LOGIN_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ask before a login; an allowed attempt is counted as made. */
  tryAttempt(): LoginDecision {
    const decision = loginDecision(this.state, this.now(), this.policy);
    if (decision.allow) this.state = { ...this.state, lastAttemptAt: this.now() };
    return decision;
  }

  /** True the first time only: the caller logs the one line that says what to fix. */
  rejected(): boolean {
    this.state = { ...this.state, rejections: this.state.rejections + 1 };
    const first = !this.warned;
    this.warned = true;
    return first;
  }

  accepted(): void {
    this.state = { rejections: 0, lastAttemptAt: this.state.lastAttemptAt };
    this.warned = false;
  }
}
