import { readdirSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

/** One process as seen in /proc (Linux only). */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Kernel short name (max 15 chars), e.g. 'ffmpeg', 'python3'. */
  comm: string;
  /** One-letter state from /proc/<pid>/stat ('R', 'S', 'Z', ...). */
  state: string;
  /** Command line joined with spaces (empty for kernel threads and zombies). */
  args: string;
  argv: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process went away between listing and reading
  }
}

/** Parse /proc/<pid>/stat; comm may hold spaces and ')' so split at the last ')'. */
function readStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = stat.slice(close + 2).split(' ');
  return { comm: stat.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

export function processInfo(pid: number): ProcessInfo | undefined {
  const stat = readStat(pid);
  if (stat === undefined) return undefined;
  const argv = (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter((a) => a.length > 0);
  return { pid, ppid: stat.ppid, comm: stat.comm, state: stat.state, args: argv.join(' '), argv };
}

export function listProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = processInfo(Number(name));
    if (info !== undefined) out.push(info);
  }
  return out;
}

/** All live (non-zombie) descendants of `pid`, children first. */
export function descendants(pid: number): ProcessInfo[] {
  const all = listProcesses();
  const byParent = new Map<number, ProcessInfo[]>();
  for (const p of all) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const out: ProcessInfo[] = [];
  const queue = [pid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const child of byParent.get(parent) ?? []) {
      if (child.state !== 'Z') out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

export function findProcesses(filter: (p: ProcessInfo) => boolean): ProcessInfo[] {
  return listProcesses().filter((p) => p.state !== 'Z' && filter(p));
}

/** Count live processes system-wide, e.g. `p => p.comm === 'ffmpeg' && p.args.includes(marker)`. */
export function countProcesses(filter: (p: ProcessInfo) => boolean): number {
  return findProcesses(filter).length;
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Number of open file descriptors (needs same user or root). */
export function openFdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size in bytes (VmRSS), 0 if the process has none (zombie). */
export function rssBytes(pid: number): number {
  const status = readText(`/proc/${pid}/status`);
  if (status === undefined) throw new Error(`no such process: ${pid}`);
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

// ---- lifecycle of children spawned by test helpers ----

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * SIGKILL `child` if this process exits while it is still running, so a
 * failing or interrupted test never leaves servers behind.
 */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** True until the child's 'exit' event has fired. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Send `signal`, wait up to `graceMs` for exit, then SIGKILL and wait again
 * (bounded). Resolves once the child has exited.
 */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return; // exited, or never spawned
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  if (await settlesWithin(exited, graceMs)) return;
  child.kill('SIGKILL');
  if (!(await settlesWithin(exited, 5000))) {
    throw new Error(`process ${child.pid} did not exit after SIGKILL`);
  }
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
