/**
 * CPU per viewer and memory: utime+stime of a rig's Homebridge and all its FFmpegs over fixed
 * windows, with 0, 1 and 2 copy viewers and 1 transcoding viewer (one rig at a time).
 */
import type { Rig, Side } from './rigs.js';
import { REQUEST, waitCold, type VideoMode } from './rigs.js';
import type { StreamHandle } from '../test/helpers/hap-camera-client.js';
import { measureCpu, memory } from './cpu-sampler.js';
import { endStream } from './stream-probe.js';
import { sleep } from './stats.js';

const BASELINE_WINDOW_MS = 2000;
const WINDOW_MS = 5000;
/** Let start-up bursts (the cached GOP, encoder start) pass before measuring. */
const SETTLE_MS = 2000;

export interface CpuResult {
  /** % of one core per window. */
  baseline: number[];
  copy1: number[];
  copy2: number[];
  transcode1: number[];
  /** Bytes. */
  rssIdle: number;
  rssCopy1Process: number;
  rssCopy1Tree: number;
}

export type CpuResults = Record<Side, CpuResult>;

async function viewer(rig: Rig, mode: VideoMode, streamIndex = 0): Promise<StreamHandle> {
  const handle = await rig.clients[mode].startStream({ ...REQUEST, streamIndex });
  try {
    await handle.waitForFrames(5, 20_000);
  } catch (error) {
    await endStream(handle);
    throw error;
  }
  return handle;
}

export async function measureCpuPerViewer(rigs: readonly Rig[], windows: number, progress: (line: string) => void): Promise<CpuResults> {
  const results = {} as CpuResults;
  for (const rig of rigs) {
    const pid = rig.hb.pid;
    if (pid === undefined) throw new Error(`${rig.label}: Homebridge is not running`);
    await waitCold(rig);
    const baseline = await measureCpu(pid, windows, BASELINE_WINDOW_MS);
    const rssIdle = memory(pid).process;
    const first = await viewer(rig, 'copy');
    let copy1: number[];
    let copy2: number[];
    let rss: { process: number; tree: number };
    try {
      await sleep(SETTLE_MS);
      copy1 = await measureCpu(pid, windows, WINDOW_MS);
      rss = memory(pid);
      const second = await viewer(rig, 'copy', 1);
      try {
        await sleep(SETTLE_MS);
        copy2 = await measureCpu(pid, windows, WINDOW_MS);
      } finally {
        await endStream(second);
      }
    } finally {
      await endStream(first);
    }
    await waitCold(rig);
    const tx = await viewer(rig, 'transcode');
    let transcode1: number[];
    try {
      await sleep(SETTLE_MS);
      transcode1 = await measureCpu(pid, windows, WINDOW_MS);
    } finally {
      await endStream(tx);
    }
    results[rig.side] = { baseline, copy1, copy2, transcode1, rssIdle, rssCopy1Process: rss.process, rssCopy1Tree: rss.tree };
    const f = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
    progress(`cpu ${rig.label}: idle [${f(baseline)}] copy×1 [${f(copy1)}] copy×2 [${f(copy2)}] transcode×1 [${f(transcode1)}] % of a core`);
  }
  return results;
}
