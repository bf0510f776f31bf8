/**
 * One reader of a camera's shared feed (a viewer's FFmpeg stdin). Bounded: when the reader falls
 * behind by more than `maxBufferedBytes`, its packets are dropped until the next keyframe, so a slow
 * viewer degrades itself and never stalls the camera or the other viewers.
 */
import type { Writable } from 'node:stream';
import type { IndexedChunk } from './mpegts-indexer.js';

export class FeedConsumer {
  /** Waiting for a keyframe: at start without a cached GOP, or after falling behind. */
  private waiting = true;
  droppedBytes = 0;
  deliveredBytes = 0;

  constructor(
    readonly name: string,
    private readonly sink: Writable,
    private readonly headers: () => Buffer | undefined,
    private readonly maxBufferedBytes = 4 * 1024 * 1024,
  ) {}

  /** Start from a cached GOP (PAT/PMT included); without one, wait for the next keyframe. */
  begin(gop: Buffer | undefined): void {
    if (gop) this.write(gop);
    this.waiting = !gop;
  }

  push(chunk: IndexedChunk): void {
    if (this.sink.destroyed || this.sink.writableEnded) return;
    if (!this.waiting && this.sink.writableLength > this.maxBufferedBytes) this.waiting = true;
    if (!this.waiting) {
      this.write(chunk.data);
      return;
    }
    const keyframe = chunk.kinds.indexOf('keyframe-start');
    if (keyframe < 0 || this.sink.writableLength > this.maxBufferedBytes / 2) {
      this.droppedBytes += chunk.data.length;
      return;
    }
    const headers = this.headers();
    if (headers) this.write(headers);
    this.write(chunk.data.subarray(keyframe * 188));
    this.waiting = false;
  }

  private write(data: Buffer): void {
    this.deliveredBytes += data.length;
    this.sink.write(data);
  }
}
