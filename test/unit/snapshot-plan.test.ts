import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { learnDecodeCost, planSnapshot } from '../../src/snapshot/snapshot-plan.js';

describe('planSnapshot: one deadline for the snapshot chain', () => {
  const cases = [
    { name: '2 s GOP at 15 fps, full budget', frames: 30, remaining: 4500, cost: 10, skip: 29 },
    { name: 'keyframe just arrived', frames: 1, remaining: 4500, cost: 10, skip: 0 },
    { name: '8 s GOP at 25 fps on a slow decoder', frames: 200, remaining: 4500, cost: 10, skip: 0 },
    { name: '8 s GOP at 25 fps on a fast decoder', frames: 200, remaining: 4500, cost: 2, skip: 199 },
    { name: '10 s GOP at 25 fps, fast decoder', frames: 250, remaining: 4500, cost: 2, skip: 249 },
    { name: 'short GOP but little time left (keyframe waited for)', frames: 30, remaining: 900, cost: 10, skip: 0 },
    { name: 'no time left at all', frames: 30, remaining: 0, cost: 10, skip: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planSnapshot(c.frames, c.remaining, c.cost);
      assert.equal(plan.skipFrames, c.skip);
      assert.equal(plan.why, c.skip === 0 && c.frames > 1 ? 'keyframe only' : 'newest frame');
    });
  }
});

describe('learnDecodeCost', () => {
  it('moves toward the measured cost, bounded, ignoring tiny jobs', () => {
    assert.equal(learnDecodeCost(10, 2400, 2), 10, 'too few frames to learn from');
    const faster = learnDecodeCost(10, 400 + 100 * 2, 100);
    assert.ok(faster < 10 && faster > 2, String(faster));
    assert.equal(learnDecodeCost(150, 400 + 1000 * 5, 5), 200, 'upper bound');
    assert.equal(learnDecodeCost(1, 0, 100), 0.7);
  });
});
