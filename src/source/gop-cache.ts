/**
 * The newest group of pictures, kept so a viewer or snapshot that joins a live feed starts from the
 * most recent keyframe at once, instead of waiting up to a whole GOP for the next one.
 */
import { TS_PACKET, type IndexedChunk } from './mpegts-indexer.js';

export interface GopSnapshot {
  /** PAT + PMT, then every packet from the newest keyframe up to now. */
  data: Buffer;
  /** Frames in the snapshot; the newest is `frames - 1` frames after the keyframe. */
  frames: number;
  /** When the keyframe arrived (ms, performance clock). */
  keyframeAt: number;
}

export class GopCache {
  private pat: Buffer | undefined;
  private pmt: Buffer | undefined;
  private packets: Buffer[] = [];
  private bytes = 0;
  private frames = 0;
  private keyframeAt = 0;
  private overflowed = false;

  /** @param maxBytes A GOP larger than this (e.g. a 4K camera with a 10 s GOP) is not cached. */
  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  get hasKeyframe(): boolean {
    return this.frames > 0 && !this.overflowed;
  }

  add(chunk: IndexedChunk, now: number): void {
    let from = 0;
    chunk.kinds.forEach((kind, i) => {
      if (kind === 'pat') this.pat = Buffer.from(chunk.data.subarray(i * TS_PACKET, (i + 1) * TS_PACKET));
      else if (kind === 'pmt') this.pmt = Buffer.from(chunk.data.subarray(i * TS_PACKET, (i + 1) * TS_PACKET));
      else if (kind === 'keyframe-start') {
        this.clear();
        this.frames = 1;
        this.keyframeAt = now;
        from = i;
      } else if (kind === 'frame-start' && this.frames > 0) {
        this.frames++;
      }
    });
    // Until the first keyframe there is nothing a decoder could start from.
    if (this.frames === 0 || this.overflowed) return;
    const part = chunk.data.subarray(from * TS_PACKET);
    if (this.bytes + part.length > this.maxBytes) {
      this.overflowed = true;
      this.packets = [];
      this.bytes = 0;
      return;
    }
    // Stdout chunks are fresh buffers per read, so a view is safe to keep.
    this.packets.push(part);
    this.bytes += part.length;
  }

  /** PAT + PMT: what a decoder needs before the first keyframe it is given. */
  headers(): Buffer | undefined {
    return this.pat && this.pmt ? Buffer.concat([this.pat, this.pmt]) : undefined;
  }

  snapshot(): GopSnapshot | undefined {
    if (!this.hasKeyframe || !this.pat || !this.pmt) return undefined;
    return { data: Buffer.concat([this.pat, this.pmt, ...this.packets]), frames: this.frames, keyframeAt: this.keyframeAt };
  }

  clear(): void {
    this.packets = [];
    this.bytes = 0;
    this.frames = 0;
    this.overflowed = false;
  }
}
