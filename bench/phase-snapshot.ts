/**
 * Snapshot latency and picture age at 640x360.
 * Cold: the rig runs no FFmpeg. Cache: the same size again right after (our 1 s fresh-JPEG cache;
 * camera-ffmpeg reuses its last fetch for 3 s and only re-scales it). Warm: one viewer is watching
 * the camera (our feed is live); every warm snapshot comes more than 3.5 s after the previous one,
 * so neither side answers from a cache.
 */
import type { Rig, Side } from './rigs.js';
import { REQUEST, waitCold } from './rigs.js';
import { analyseSnapshot, takeSnapshot, type SnapshotResult, type SnapshotSample } from './snapshot-probe.js';
import { endStream } from './stream-probe.js';
import { randomBetween, sleep } from './stats.js';

export const SNAPSHOT_SIZE = { width: 640, height: 360 } as const;
/** Longer than either side's snapshot cache (ours 1 s, camera-ffmpeg 3 s). */
const CACHE_CLEAR_MS = 3500;

export type SnapshotResults = Record<Side, { cold: SnapshotResult[]; cache: SnapshotResult[]; warm: SnapshotResult[] }>;

async function snap(rig: Rig): Promise<SnapshotSample> {
  const sample = await takeSnapshot(rig.clients.copy, SNAPSHOT_SIZE.width, SNAPSHOT_SIZE.height);
  rig.lastSnapshotAt = performance.now();
  return sample;
}

async function afterCacheExpired(rig: Rig): Promise<void> {
  await sleep(rig.lastSnapshotAt + CACHE_CLEAR_MS - performance.now());
  await sleep(randomBetween(0, 2000));
}

export async function measureSnapshots(rigs: readonly Rig[], runs: number, progress: (line: string) => void): Promise<SnapshotResults> {
  const results: SnapshotResults = { ours: { cold: [], cache: [], warm: [] }, theirs: { cold: [], cache: [], warm: [] } };
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? rigs : [...rigs].reverse();
    for (const rig of order) {
      await waitCold(rig);
      await afterCacheExpired(rig);
      const cold = await snap(rig);
      const cached = await snap(rig);
      const [c, h] = [await analyseSnapshot(cold), await analyseSnapshot(cached)];
      results[rig.side].cold.push(c);
      results[rig.side].cache.push(h);
      progress(`snapshot cold run ${run + 1}/${runs} ${rig.label}: ${c.ms.toFixed(0)} ms (age ${c.ageMs.toFixed(0)}), repeat ${h.ms.toFixed(0)} ms (age ${h.ageMs.toFixed(0)})`);
    }
  }
  for (const rig of rigs) {
    await waitCold(rig);
    const viewer = await rig.clients.copy.startStream(REQUEST);
    try {
      await viewer.waitForFrames(5, 20_000);
      for (let run = 0; run < runs; run++) {
        await afterCacheExpired(rig);
        const warm = await analyseSnapshot(await snap(rig));
        results[rig.side].warm.push(warm);
        progress(`snapshot warm run ${run + 1}/${runs} ${rig.label}: ${warm.ms.toFixed(0)} ms (age ${warm.ageMs.toFixed(0)})`);
      }
    } finally {
      await endStream(viewer);
    }
  }
  return results;
}
