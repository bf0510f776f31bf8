import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginGate, loginDecision, type LoginDecision, type LoginState } from '../../src/health/login-backoff.js';

const policy = { freeAttempts: 2, intervalMs: 300_000 };

describe('loginDecision', () => {
  const cases: { name: string; state: LoginState; now: number; want: LoginDecision }[] = [
    { name: 'no rejection yet', state: { rejections: 0, lastAttemptAt: 0 }, now: 1, want: { allow: true } },
    { name: 'first rejection: one free retry', state: { rejections: 1, lastAttemptAt: 0 }, now: 1, want: { allow: true } },
    { name: 'two rejections: wait the interval', state: { rejections: 2, lastAttemptAt: 1000 }, now: 2000, want: { allow: false, retryInMs: 299_000 } },
    { name: 'interval passed', state: { rejections: 5, lastAttemptAt: 1000 }, now: 301_000, want: { allow: true } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(loginDecision(c.state, c.now, policy), c.want));
});

describe('LoginGate', () => {
  it('allows two attempts after a rejection, then one per interval, warns once, resets on success', () => {
    let now = 0;
    const gate = new LoginGate(policy, () => now);
    let allowed = 0;
    let warnings = 0;
    // Probe and feed both hammer the gate every second for 11 minutes against a wrong password.
    for (now = 0; now <= 660_000; now += 1000) {
      if (gate.tryAttempt().allow) {
        allowed++;
        if (gate.rejected()) warnings++;
      }
    }
    assert.equal(allowed, 2 + 2, 'two at once, then at 5 and 10 minutes');
    assert.equal(warnings, 1);
    gate.accepted();
    assert.deepEqual(gate.tryAttempt(), { allow: true });
  });
});
