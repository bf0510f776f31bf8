/**
 * One camera's login gate, shared by its health probe and its camera feed: holds the
 * {@link LoginState}, asks the pure policy before each login, and logs once when the camera has
 * rejected the credentials often enough that attempts are spaced out.
 */
import type { Log } from '../logging.js';
import { attemptBegan, attemptEnded, DEFAULT_LOGIN_POLICY, INITIAL_LOGIN_STATE, mayAttempt } from './login-policy.js';
import type { LoginOutcome, LoginPolicy, LoginState } from './login-policy.js';

export interface LoginAttempt {
  /** Idempotent: the first outcome counts. */
  end(outcome: LoginOutcome): void;
}

export type LoginTicket = { ok: true; attempt: LoginAttempt } | { ok: false; retryInMs: number };

export interface LoginGate {
  /** Begin a login now, or learn how long to wait before asking again. */
  begin(): LoginTicket;
}

export interface LoginGuardInit {
  log: Log;
  policy?: LoginPolicy;
  now?: () => number;
}

export class LoginGuard implements LoginGate {
  private state: LoginState = INITIAL_LOGIN_STATE;
  private readonly policy: LoginPolicy;

  constructor(private readonly init: LoginGuardInit) {
    this.policy = init.policy ?? DEFAULT_LOGIN_POLICY;
  }

  private now(): number {
    return this.init.now?.() ?? Date.now();
  }

  get rejections(): number {
    return this.state.rejections;
  }

  begin(): LoginTicket {
    const decision = mayAttempt(this.state, this.now(), this.policy);
    if (!decision.allow) return { ok: false, retryInMs: decision.retryInMs };
    this.state = attemptBegan(this.state, this.now());
    let ended = false;
    return {
      ok: true,
      attempt: {
        end: (outcome) => {
          if (ended) return;
          ended = true;
          const next = attemptEnded(this.state, outcome, this.policy);
          this.state = next.state;
          if (next.lockoutStarted) {
            const minutes = Math.round(this.policy.intervalMs / 60_000);
            this.init.log.warn(
              `the camera rejected the user name or password ${next.state.rejections} times: to keep it from locking the account, ` +
              `logins are now tried at most once every ${minutes} minutes. Fix the credentials in this camera's "source" URL ` +
              'and restart Homebridge, which tries again at once.',
            );
          }
        },
      },
    };
  }
}
