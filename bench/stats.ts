/** Small numeric helpers shared by the benchmark modules. */
import { setTimeout as delay } from 'node:timers/promises';

/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (list.length === 0) return Number.NaN;
  const mid = Math.floor(list.length / 2);
  return list.length % 2 === 1 ? (list[mid] as number) : ((list[mid - 1] as number) + (list[mid] as number)) / 2;
}

export function randomBetween(min: number, max: number): number {
  return min + Math.random() * (max - min);
}

export function sleep(ms: number): Promise<void> {
  return delay(Math.max(0, ms));
}
