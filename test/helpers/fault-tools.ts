/**
 * Small tools for the fault-injection tests: which FFmpeg child is which, zombies, CPU time from
 * /proc, and a TCP server that stands in for a dead camera and counts who knocks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { descendants, listProcesses, type ProcessInfo } from './processes.js';

/** Per-viewer FFmpegs: the only ones with an srtp:// output. */
export function viewerFfmpegs(pid: number | undefined): ProcessInfo[] {
  return pid ? descendants(pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args)) : [];
}

/** Camera-feed FFmpegs (they read rtsp://), optionally only those reading from `port`. */
export function feedFfmpegs(pid: number | undefined, port?: number): ProcessInfo[] {
  return pid
    ? descendants(pid).filter((p) => p.comm === 'ffmpeg' && !/\bs?rtp:\/\//.test(p.args) && p.args.includes('rtsp://')
      && (port === undefined || p.args.includes(`:${port}/`)))
    : [];
}

export function ffmpegDescendants(pid: number | undefined): ProcessInfo[] {
  return pid ? descendants(pid).filter((p) => p.comm === 'ffmpeg') : [];
}

/** Children of `pid` that exited but were never reaped. */
export function zombieChildren(pid: number | undefined): ProcessInfo[] {
  return pid ? listProcesses().filter((p) => p.ppid === pid && p.state === 'Z') : [];
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second, for the utime/stime fields of /proc/<pid>/stat. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime, stime, cutime, cstime of one process in seconds (0 if it is gone). */
function cpuOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After ")": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  const sum = [11, 12, 13, 14].reduce((acc, i) => acc + Number(fields[i] ?? 0), 0);
  return sum / ticksPerSecond();
}

/**
 * CPU seconds used so far by `pid` and every live descendant, including reaped children (cutime),
 * so a child that exits between two samples is still counted.
 */
export function treeCpuSeconds(pid: number): number {
  return cpuOf(pid) + descendants(pid).reduce((acc, p) => acc + cpuOf(p.pid), 0);
}

export interface KnockRecord {
  at: number;
  /** 'ffmpeg' (User-Agent Lavf…), 'probe' (our RTSP health probe) or 'other'. */
  who: 'ffmpeg' | 'probe' | 'other';
}

/**
 * A TCP server on a dead camera's port: reads the first request to tell FFmpeg from the health
 * probe, then hangs up, like a camera whose RTSP service is not up yet.
 */
export class KnockCounter {
  readonly knocks: KnockRecord[] = [];

  private constructor(private readonly server: net.Server, private readonly sockets: Set<net.Socket>) {}

  static listen(port: number): Promise<KnockCounter> {
    const sockets = new Set<net.Socket>();
    let counter: KnockCounter | undefined;
    const server = net.createServer((socket) => {
      sockets.add(socket);
      const at = performance.now();
      let text = '';
      const done = (): void => {
        if (!sockets.has(socket)) return;
        sockets.delete(socket);
        clearTimeout(timer);
        const who = /User-Agent:\s*Lavf/i.test(text) ? 'ffmpeg' : /User-Agent:\s*homebridge-cctv/i.test(text) ? 'probe' : 'other';
        counter?.knocks.push({ at, who });
        socket.destroy();
      };
      const timer = setTimeout(done, 1000);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\r\n\r\n')) done();
      });
      socket.on('error', () => undefined);
      socket.on('close', done);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', reject);
        counter = new KnockCounter(server, sockets);
        resolve(counter);
      });
    });
  }

  count(who: KnockRecord['who']): number {
    return this.knocks.filter((k) => k.who === who).length;
  }

  times(who: KnockRecord['who']): number[] {
    return this.knocks.filter((k) => k.who === who).map((k) => k.at);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
