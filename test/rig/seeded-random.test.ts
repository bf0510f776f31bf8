import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FUZZ_SEED, fuzzSeed, seededRandom } from '../helpers/seeded-random.js';

describe('seeded random', () => {
  it('replays the same sequence from the same seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = [a(), a(), a()];
    assert.deepEqual([b(), b(), b()], first);
    assert.ok(first.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual([seededRandom(8)(), seededRandom(8)()][0], first[0]);
  });

  it('fuzz seed: fixed unless the environment asks', () => {
    const cases: Array<{ value: string | undefined; want: number | RegExp }> = [
      { value: undefined, want: DEFAULT_FUZZ_SEED },
      { value: '', want: DEFAULT_FUZZ_SEED },
      { value: '42', want: 42 },
      { value: '4294967295', want: 0xffff_ffff },
      { value: 'random', want: 0x8000_0000 },
      { value: '4294967296', want: /unsigned 32-bit/ },
      { value: '-1', want: /unsigned 32-bit/ },
      { value: '1e3', want: /unsigned 32-bit/ },
      { value: 'yes', want: /unsigned 32-bit/ },
    ];
    for (const c of cases) {
      if (c.want instanceof RegExp) assert.throws(() => fuzzSeed(c.value, () => 0.5), c.want, String(c.value));
      else assert.equal(fuzzSeed(c.value, () => 0.5), c.want, String(c.value));
    }
  });
});
