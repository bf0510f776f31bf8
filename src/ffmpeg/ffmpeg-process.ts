/**
 * The owner of one FFmpeg child. Takes an argv array (never a shell string), ties the child's life to
 * an AbortSignal, and resolves `exited` exactly once. Stopping asks politely ('q' on stdin is not
 * available when stdin carries media, so SIGTERM), then SIGKILLs after a bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ProgressParser, type FfmpegProgress } from './progress-parser.js';
import { StderrRing } from './stderr-ring.js';
import { isTeardownReason, type TeardownReason } from '../lifecycle/teardown-reason.js';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why we stopped it, when we did; undefined means FFmpeg ended on its own. */
  stopReason?: TeardownReason;
  /** The last stderr lines, unredacted: redact before printing. */
  stderr: string[];
}

export interface FfmpegProcessOptions {
  path: string;
  args: readonly string[];
  signal?: AbortSignal;
  /** Pipe stdin so media can be written into it. */
  stdin?: boolean;
  /** Receives complete stderr lines (unredacted). */
  onStderrLine?: (line: string) => void;
  /** Receives `-progress pipe:3` blocks; the argv must contain `-progress pipe:3`. */
  onProgress?: (progress: FfmpegProgress) => void;
  killAfterMs?: number;
}

/** Every live FFmpeg we own, so shutdown and tests can account for them. */
const live = new Set<FfmpegProcess>();

export function liveFfmpegCount(): number {
  return live.size;
}

export class FfmpegProcess {
  readonly exited: Promise<FfmpegExit>;
  private readonly child: ChildProcess;
  private readonly ring = new StderrRing();
  private stopReason: TeardownReason | undefined;
  private done = false;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FfmpegProcessOptions) {
    this.child = spawn(options.path, [...options.args], {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', options.onProgress ? 'pipe' : 'ignore'],
      windowsHide: true,
    });
    const progressStream = this.child.stdio[3] as Readable | null | undefined;
    if (options.onProgress && progressStream) {
      const parser = new ProgressParser();
      const onProgress = options.onProgress;
      progressStream.setEncoding('utf8');
      progressStream.on('data', (chunk: string) => {
        for (const block of parser.push(chunk)) onProgress(block);
      });
      progressStream.on('error', () => undefined);
    }
    live.add(this);
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      for (const line of this.ring.push(chunk)) options.onStderrLine?.(line);
    });
    // A consumer that died must not crash us with EPIPE.
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise<FfmpegExit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.done) return;
        this.done = true;
        live.delete(this);
        clearTimeout(this.killTimer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve({ code, signal, stopReason: this.stopReason, stderr: this.ring.snapshot() });
      };
      this.child.once('error', (error) => {
        this.ring.push(`${error.message}\n`);
        finish(null, null);
      });
      this.child.once('exit', (code, signal) => finish(code, signal));
    });
    const onAbort = (): void => this.requestStop(abortReason(options.signal));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdout(): Readable | null {
    return this.child.stdout;
  }

  get stdin(): Writable | null {
    return this.child.stdin;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Idempotent: SIGTERM now, SIGKILL if it is still alive after the bound. */
  stop(reason: TeardownReason): Promise<FfmpegExit> {
    this.requestStop(reason);
    return this.exited;
  }

  private requestStop(reason: TeardownReason): void {
    if (!this.done && this.stopReason === undefined) {
      this.stopReason = reason;
      this.child.stdin?.destroy();
      this.child.kill('SIGTERM');
      this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), this.options.killAfterMs ?? 2000);
      this.killTimer.unref();
    }
  }
}

/** Our owners abort with a TeardownReason; anything else (a bare `abort()`) counts as cancelled. */
function abortReason(signal: AbortSignal | undefined): TeardownReason {
  const reason: unknown = signal?.reason;
  return isTeardownReason(reason) ? reason : 'cancelled';
}
