import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogThrottle } from '../../src/mqtt/log-throttle.js';

describe('LogThrottle', () => {
  it('once per key per window, keys independent', () => {
    let now = 0;
    const t = new LogThrottle({ windowMs: 60_000, now: () => now });
    assert.deepEqual([t.allow('a'), t.allow('a'), t.allow('b')], [true, false, true]);
    now = 59_999;
    assert.equal(t.allow('a'), false);
    now = 60_000;
    assert.equal(t.allow('a'), true);
  });

  it('bounded: a flood of distinct keys stops being logged', () => {
    let now = 0;
    const t = new LogThrottle({ windowMs: 1000, maxKeys: 3, now: () => now });
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => t.allow(k)), [true, true, true, false]);
    now = 1000;
    assert.equal(t.allow('d'), true, 'expired keys make room');
  });
});
