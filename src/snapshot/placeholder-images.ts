/**
 * The "no picture" JPEG, shared by every camera. It is needed exactly when the machine is busiest
 * (snapshots refused by the cap, cameras timing out), so it is rendered once ahead of need and then
 * served at once: a size that was never rendered gets one of another size (the Home app scales it
 * into the tile) instead of waiting for an FFmpeg. Only when none exists yet is a render awaited;
 * concurrent renders of a size are shared, and a failed render is not kept.
 */
import { runToBuffer } from '../ffmpeg/run-to-buffer.js';
import { placeholderArgs } from './placeholder-args.js';

/** Few sizes are ever asked for; hostile sizes must not grow the map. */
const MAX_SIZES = 16;
/** Rendered ahead of need: the Home app's usual tile size. */
const WARM_SIZE = { width: 640, height: 360 };

export class PlaceholderImages {
  private readonly ready = new Map<string, Buffer>();
  private readonly pending = new Map<string, Promise<Buffer>>();

  constructor(private readonly ffmpegPath: string) {}

  /** Whether one is rendered or being rendered (nothing to warm). */
  get warm(): boolean {
    return this.ready.size > 0 || this.pending.size > 0;
  }

  /** Render the usual size now, so a later fallback never waits for FFmpeg. */
  prepare(): Promise<Buffer> {
    return this.get(WARM_SIZE.width, WARM_SIZE.height);
  }

  get(width: number, height: number): Promise<Buffer> {
    const key = `${width}x${height}`;
    const exact = this.ready.get(key);
    if (exact) return Promise.resolve(exact);
    const any = this.ready.values().next().value;
    if (any) return Promise.resolve(any);
    const pending = this.pending.get(key) ?? this.pending.values().next().value;
    if (pending) return pending;
    const render = this.render(width, height).then(
      (jpeg) => {
        this.pending.delete(key);
        if (this.ready.size < MAX_SIZES) this.ready.set(key, jpeg);
        return jpeg;
      },
      (error: unknown) => {
        this.pending.delete(key);
        throw error;
      },
    );
    this.pending.set(key, render);
    return render;
  }

  private async render(width: number, height: number): Promise<Buffer> {
    const { stdout, exit } = await runToBuffer({ path: this.ffmpegPath, args: placeholderArgs(width, height), timeoutMs: 5000 });
    if (exit.code !== 0 || stdout.length < 4 || stdout[0] !== 0xff || stdout[1] !== 0xd8) throw new Error('could not render the offline placeholder');
    return stdout;
  }
}
