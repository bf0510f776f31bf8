/** mulberry32: a small seeded PRNG so randomised tests replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed CI always uses, so a red run replays exactly. */
export const DEFAULT_FUZZ_SEED = 20_261_203;

/**
 * The seed for a randomised test: DEFAULT_FUZZ_SEED unless `CCTV_FUZZ_SEED` asks for another
 * (a number replays that run; `random` explores a new one). Print it, so any run can be replayed.
 */
export function fuzzSeed(value: string | undefined = process.env['CCTV_FUZZ_SEED'], random: () => number = Math.random): number {
  if (value === undefined || value === '') return DEFAULT_FUZZ_SEED;
  if (value === 'random') return Math.floor(random() * 2 ** 32) >>> 0;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffff_ffff) {
    throw new Error(`CCTV_FUZZ_SEED must be an unsigned 32-bit number or "random", not ${JSON.stringify(value)}`);
  }
  return Number(value);
}
