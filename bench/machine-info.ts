/** A description of the machine a benchmark ran on, for the report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  ffmpeg: string;
  node: string;
  date: string;
  /** 1-minute load average when the run started (others share the machine). */
  loadAtStart: number;
}

export function machineInfo(ffmpegPath: string): MachineInfo {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep "unknown"
  }
  let ffmpeg = 'unknown';
  try {
    ffmpeg = execFileSync(ffmpegPath, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0]?.split(' Copyright')[0]?.trim() ?? ffmpeg;
  } catch {
    // reported as unknown
  }
  return {
    cpu,
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    ffmpeg,
    node: process.version,
    date: new Date().toISOString(),
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
