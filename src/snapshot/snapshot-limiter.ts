/**
 * Caps concurrent snapshot FFmpegs per camera and for the whole platform. The Home app polls every
 * camera tile every ~10 s, all at once, and each device asks its own sizes: unbounded, a grid of
 * cameras spawns a burst of CPU-bound decoders that all miss HomeKit's 5 s budget together. A
 * request waits in a FIFO queue (a camera at its own cap does not block the others) only until the
 * last moment it could still finish in time; then it is refused, and its caller answers from cache.
 */
import { availableParallelism } from 'node:os';

export interface SnapshotLimits {
  /** Snapshot FFmpegs of one camera at once (different sizes, asked by different devices). */
  perCamera: number;
  /** Snapshot FFmpegs of the whole platform at once. */
  total: number;
}

/**
 * Two per camera: a phone and a tablet asking two sizes both get a new picture without waiting.
 * Platform-wide, one per core between 2 and 4: a snapshot is one CPU-bound decode + encode, so more
 * than the cores only makes every one slower; 2 keeps one slow camera from stalling the rest on a
 * small machine, 4 keeps a big server's burst bounded in memory and in camera-side load.
 */
export function defaultSnapshotLimits(cores = availableParallelism()): SnapshotLimits {
  return { perCamera: 2, total: Math.min(4, Math.max(2, cores)) };
}

export interface QueuedSnapshot {
  camera: string;
  /** The last moment the FFmpeg may start and still finish inside HomeKit's budget. */
  startBy: number;
}

export interface QueueDecision {
  /** Indices into the queue that start now. */
  grant: number[];
  /** Indices that can no longer start in time: answer from cache. */
  refuse: number[];
}

/** Who starts and who gives up, given what runs now. Pure. */
export function decideQueue(queue: readonly QueuedSnapshot[], running: ReadonlyMap<string, number>, limits: SnapshotLimits, now: number): QueueDecision {
  const perCamera = new Map(running);
  let total = [...running.values()].reduce((a, b) => a + b, 0);
  const grant: number[] = [];
  const refuse: number[] = [];
  queue.forEach((request, i) => {
    if (request.startBy <= now) {
      refuse.push(i);
      return;
    }
    const mine = perCamera.get(request.camera) ?? 0;
    if (total >= limits.total || mine >= limits.perCamera) return;
    grant.push(i);
    perCamera.set(request.camera, mine + 1);
    total++;
  });
  return { grant, refuse };
}

export interface SnapshotSlot {
  /** Idempotent: the FFmpeg is gone, the next queued request may start. */
  release(): void;
}

/** One camera's view of the shared limiter. */
export interface SnapshotSlots {
  /** A slot, or undefined when none frees up before `startBy` (or `signal` aborts). */
  acquire(startBy: number, signal?: AbortSignal): Promise<SnapshotSlot | undefined>;
  /** What a refusal means, for the log line. */
  readonly limits: SnapshotLimits;
}

interface Waiting extends QueuedSnapshot {
  resolve: (slot: SnapshotSlot | undefined) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class SnapshotLimiter {
  private readonly running = new Map<string, number>();
  private queue: Waiting[] = [];

  constructor(readonly limits: SnapshotLimits = defaultSnapshotLimits(), private readonly now: () => number = () => performance.now()) {}

  /** Snapshot FFmpegs running now (all cameras). */
  get active(): number {
    return [...this.running.values()].reduce((a, b) => a + b, 0);
  }

  get waiting(): number {
    return this.queue.length;
  }

  forCamera(camera: string): SnapshotSlots {
    return { acquire: (startBy, signal) => this.acquire(camera, startBy, signal), limits: this.limits };
  }

  acquire(camera: string, startBy: number, signal?: AbortSignal): Promise<SnapshotSlot | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const entry: Waiting = {
        camera, startBy, resolve, signal,
        // Wake at the deadline so a refusal is answered then, not at the next release.
        timer: setTimeout(() => this.expire(entry), Math.max(0, startBy - this.now())),
        onAbort: () => {
          this.drop(entry);
          resolve(undefined);
          this.pump();
        },
      };
      entry.timer.unref();
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.queue.push(entry);
      this.pump();
    });
  }

  private pump(): void {
    const { grant, refuse } = decideQueue(this.queue, this.running, this.limits, this.now());
    if (grant.length === 0 && refuse.length === 0) return;
    const done = new Set([...grant, ...refuse]);
    const decided = this.queue.filter((_, i) => done.has(i));
    const granted = new Set(grant.map((i) => this.queue[i]));
    this.queue = this.queue.filter((_, i) => !done.has(i));
    for (const entry of decided) {
      clearTimeout(entry.timer);
      entry.signal?.removeEventListener('abort', entry.onAbort);
      if (granted.has(entry)) entry.resolve(this.slot(entry.camera));
      else entry.resolve(undefined);
    }
  }

  private slot(camera: string): SnapshotSlot {
    this.running.set(camera, (this.running.get(camera) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.running.get(camera) ?? 1) - 1;
        if (left > 0) this.running.set(camera, left);
        else this.running.delete(camera);
        this.pump();
      },
    };
  }

  /** Its deadline passed: refused even if the timer fired a hair before the clock says so. */
  private expire(entry: Waiting): void {
    if (!this.queue.includes(entry)) return;
    this.drop(entry);
    entry.signal?.removeEventListener('abort', entry.onAbort);
    entry.resolve(undefined);
  }

  private drop(entry: Waiting): void {
    clearTimeout(entry.timer);
    this.queue = this.queue.filter((e) => e !== entry);
  }
}
