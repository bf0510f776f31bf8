/**
 * CPU time and memory of a process tree from /proc (Linux): a Homebridge process and every FFmpeg
 * it runs. CPU is utime+stime of each live process, plus cutime+cstime for children that exited
 * and were reaped during the window, so short-lived FFmpegs are not lost.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ticksPerSecond } from '../test/helpers/fault-tools.js';
import { descendants, rssBytes } from '../test/helpers/processes.js';
import { sleep } from './stats.js';

interface ProcTimes {
  /** utime + stime, clock ticks. */
  own: number;
  /** cutime + cstime: reaped children, clock ticks. */
  children: number;
}

export interface CpuSample {
  at: number;
  procs: Map<number, ProcTimes>;
}

function readTimes(pid: number): ProcTimes | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after "(comm) ": state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(rest[i] ?? 0);
  return { own: n(11) + n(12), children: n(13) + n(14) };
}

export function sampleTree(rootPid: number): CpuSample {
  const procs = new Map<number, ProcTimes>();
  for (const pid of [rootPid, ...descendants(rootPid).map((p) => p.pid)]) {
    const times = readTimes(pid);
    if (times) procs.set(pid, times);
  }
  return { at: performance.now(), procs };
}

/** CPU between two samples, in % of one core. */
export function cpuPercent(a: CpuSample, b: CpuSample): number {
  let ticks = 0;
  for (const [pid, later] of b.procs) {
    const earlier = a.procs.get(pid);
    // A process born inside the window: all of its CPU time is inside the window too.
    ticks += later.own - (earlier?.own ?? 0);
    if (earlier) ticks += later.children - earlier.children;
  }
  const seconds = (b.at - a.at) / 1000;
  return seconds > 0 ? (ticks / ticksPerSecond() / seconds) * 100 : Number.NaN;
}

/** `windows` consecutive measurements of `windowMs` each, % of one core. */
export async function measureCpu(rootPid: number, windows: number, windowMs: number): Promise<number[]> {
  const out: number[] = [];
  let previous = sampleTree(rootPid);
  for (let i = 0; i < windows; i++) {
    await sleep(windowMs);
    const next = sampleTree(rootPid);
    out.push(cpuPercent(previous, next));
    previous = next;
  }
  return out;
}

/** Resident memory of the process alone, and of it plus all its descendants, bytes. */
export function memory(rootPid: number): { process: number; tree: number } {
  const own = safeRss(rootPid);
  const tree = own + descendants(rootPid).reduce((sum, p) => sum + safeRss(p.pid), 0);
  return { process: own, tree };
}

function safeRss(pid: number): number {
  try {
    return rssBytes(pid);
  } catch {
    return 0;
  }
}
