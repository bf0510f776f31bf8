/** Runs a short FFmpeg job (a snapshot) to completion, bounded by a timeout, collecting stdout. */
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.js';

export interface BufferJob {
  path: string;
  args: readonly string[];
  stdinData?: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Receives complete stderr lines (unredacted). */
  onStderrLine?: (line: string) => void;
}

export interface BufferResult {
  stdout: Buffer;
  exit: FfmpegExit;
}

export async function runToBuffer(job: BufferJob): Promise<BufferResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort('timeout'), job.timeoutMs);
  const onAbort = (): void => controller.abort('cancelled');
  job.signal?.addEventListener('abort', onAbort, { once: true });
  const proc = new FfmpegProcess({ path: job.path, args: job.args, stdin: job.stdinData !== undefined, signal: controller.signal, ...(job.onStderrLine ? { onStderrLine: job.onStderrLine } : {}) });
  const chunks: Buffer[] = [];
  proc.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  if (job.stdinData !== undefined) proc.stdin?.end(job.stdinData);
  try {
    const exit = await proc.exited;
    return { stdout: Buffer.concat(chunks), exit };
  } finally {
    clearTimeout(timer);
    job.signal?.removeEventListener('abort', onAbort);
  }
}
