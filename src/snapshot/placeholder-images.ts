/**
 * The "no picture" JPEG per size, shared by every camera: when many cameras are refused a snapshot
 * at once (an overloaded machine, a network outage), each size is rendered by one FFmpeg, not one
 * per camera. In-flight renders are shared; a failed render is not kept, so the next one retries.
 */
import { runToBuffer } from '../ffmpeg/run-to-buffer.js';
import { placeholderArgs } from './placeholder-args.js';

/** Few sizes are ever asked for; hostile sizes must not grow the map. */
const MAX_SIZES = 16;

export class PlaceholderImages {
  private readonly images = new Map<string, Promise<Buffer>>();

  constructor(private readonly ffmpegPath: string) {}

  get(width: number, height: number): Promise<Buffer> {
    const key = `${width}x${height}`;
    const known = this.images.get(key);
    if (known) return known;
    if (this.images.size >= MAX_SIZES) return this.render(width, height);
    const render = this.render(width, height).catch((error: unknown) => {
      this.images.delete(key);
      throw error;
    });
    this.images.set(key, render);
    return render;
  }

  private async render(width: number, height: number): Promise<Buffer> {
    const { stdout, exit } = await runToBuffer({ path: this.ffmpegPath, args: placeholderArgs(width, height), timeoutMs: 5000 });
    if (exit.code !== 0 || stdout.length < 4 || stdout[0] !== 0xff || stdout[1] !== 0xd8) throw new Error('could not render the offline placeholder');
    return stdout;
  }
}
