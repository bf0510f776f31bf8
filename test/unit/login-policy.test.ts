import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginGuard } from '../../src/health/login-guard.js';
import { attemptBegan, attemptEnded, INITIAL_LOGIN_STATE, mayAttempt } from '../../src/health/login-policy.js';
import type { LoginOutcome, LoginPolicy, LoginState } from '../../src/health/login-policy.js';

const POLICY: LoginPolicy = { freeAttempts: 2, intervalMs: 60_000 };

describe('login policy: mayAttempt', () => {
  const cases: Array<{ name: string; state: LoginState; now: number; allow: boolean; retryInMs?: number }> = [
    { name: 'fresh start', state: INITIAL_LOGIN_STATE, now: 0, allow: true },
    { name: 'no rejection known, others in flight (a healthy camera is never held back)', state: { rejections: 0, lastAttemptAt: 0, inFlight: 3 }, now: 1, allow: true },
    { name: 'one rejection, nothing in flight: the second free attempt', state: { rejections: 1, lastAttemptAt: 0, inFlight: 0 }, now: 5, allow: true },
    { name: 'one rejection, one in flight: wait for its outcome', state: { rejections: 1, lastAttemptAt: 0, inFlight: 1 }, now: 5, allow: false, retryInMs: 1000 },
    { name: 'two rejections, right after', state: { rejections: 2, lastAttemptAt: 1_000, inFlight: 0 }, now: 2_000, allow: false, retryInMs: 59_000 },
    { name: 'two rejections, just before the interval', state: { rejections: 2, lastAttemptAt: 0, inFlight: 0 }, now: 59_999, allow: false, retryInMs: 1000 },
    { name: 'two rejections, interval passed', state: { rejections: 2, lastAttemptAt: 0, inFlight: 0 }, now: 60_000, allow: true },
    { name: 'interval passed but an attempt is in flight', state: { rejections: 5, lastAttemptAt: 0, inFlight: 1 }, now: 120_000, allow: false, retryInMs: 1000 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = mayAttempt(c.state, c.now, POLICY);
      assert.equal(decision.allow, c.allow);
      if (!decision.allow) assert.equal(decision.retryInMs, c.retryInMs);
    });
  }
});

describe('login policy: attemptEnded', () => {
  const cases: Array<{ name: string; rejections: number; outcome: LoginOutcome; want: number; lockoutStarted: boolean }> = [
    { name: 'accepted resets', rejections: 4, outcome: 'accepted', want: 0, lockoutStarted: false },
    { name: 'unknown (network) counts nothing', rejections: 1, outcome: 'unknown', want: 1, lockoutStarted: false },
    { name: 'first rejection', rejections: 0, outcome: 'rejected', want: 1, lockoutStarted: false },
    { name: 'second rejection starts the lockout (say it once)', rejections: 1, outcome: 'rejected', want: 2, lockoutStarted: true },
    { name: 'later rejections stay quiet', rejections: 2, outcome: 'rejected', want: 3, lockoutStarted: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const began = attemptBegan({ rejections: c.rejections, lastAttemptAt: undefined, inFlight: 0 }, 10);
      assert.deepEqual([began.inFlight, began.lastAttemptAt], [1, 10]);
      const ended = attemptEnded(began, c.outcome, POLICY);
      assert.deepEqual([ended.state.rejections, ended.state.inFlight, ended.lockoutStarted], [c.want, 0, c.lockoutStarted]);
    });
  }
});

describe('LoginGuard: probe and feed share one budget', () => {
  it('a wrong password over 20 simulated minutes: 2 attempts at once, then one per interval, one warning', () => {
    let now = 0;
    const warnings: string[] = [];
    const log = { info: () => undefined, debug: () => undefined, error: () => undefined, warn: (m: string) => warnings.push(m) };
    const guard = new LoginGuard({ log, policy: { freeAttempts: 2, intervalMs: 5 * 60_000 }, now: () => now });
    const attempts: number[] = [];
    // Two parties (probe every 10 s, feed restarting every 10 s) ask every second for 20 minutes.
    for (now = 0; now <= 20 * 60_000; now += 1000) {
      for (let party = 0; party < 2; party++) {
        const ticket = guard.begin();
        if (!ticket.ok) continue;
        attempts.push(now);
        ticket.attempt.end('rejected');
        ticket.attempt.end('accepted'); // idempotent: the first outcome counts
      }
    }
    assert.deepEqual(attempts, [0, 0, 300_000, 600_000, 900_000, 1_200_000]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /rejected the user name or password 2 times.*at most once every 5 minutes.*"source" URL.*restart Homebridge/);
  });

  it('an accepted login ends the lockout at once; a new guard (a restart) starts fresh', () => {
    let now = 0;
    const log = { info: () => undefined, debug: () => undefined, error: () => undefined, warn: () => undefined };
    const guard = new LoginGuard({ log, policy: POLICY, now: () => now });
    for (let i = 0; i < 2; i++) {
      const t = guard.begin();
      assert.ok(t.ok);
      t.attempt.end('rejected');
    }
    assert.equal(guard.begin().ok, false);
    assert.equal(new LoginGuard({ log, policy: POLICY, now: () => now }).begin().ok, true, 'after a restart: at once');
    now = POLICY.intervalMs;
    const t = guard.begin();
    assert.ok(t.ok);
    t.attempt.end('accepted');
    assert.equal(guard.rejections, 0);
    assert.equal(guard.begin().ok, true);
  });
});
