/**
 * Cuts FFmpeg's fragmented MP4 output into what HomeKit Secure Video sends: first the init segment
 * (every box before the first `moof`: ftyp + moov), then one packet per fragment (`moof` + its
 * `mdat`). Boxes are parsed by their headers only; any other top-level box after the init (free,
 * sidx, styp) travels with the next fragment. Pure apart from its buffer.
 */

export type Fmp4Packet = { kind: 'init' | 'fragment'; data: Buffer };

export class Fmp4Error extends Error {}

/** Bigger than any fragment a camera could produce in 8 s; a corrupt length must not eat memory. */
const MAX_BOX_BYTES = 64 * 1024 * 1024;

export class Fmp4Segmenter {
  private pending: Buffer = Buffer.alloc(0);
  private collected: Buffer[] = [];
  private initSent = false;
  private sawMoof = false;

  /** Feed stdout bytes; returns every packet completed by them, in order. */
  push(chunk: Buffer): Fmp4Packet[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Fmp4Packet[] = [];
    for (;;) {
      const box = this.nextBox();
      if (!box) break;
      if (box.type === 'moof') {
        if (!this.initSent) {
          out.push({ kind: 'init', data: Buffer.concat(this.collected) });
          this.collected = [];
          this.initSent = true;
        }
        this.sawMoof = true;
        this.collected.push(box.data);
      } else if (box.type === 'mdat' && this.sawMoof) {
        this.collected.push(box.data);
        out.push({ kind: 'fragment', data: Buffer.concat(this.collected) });
        this.collected = [];
        this.sawMoof = false;
      } else if (box.type === 'moov' && !this.initSent) {
        // The init can go out as soon as moov is complete, before the first fragment exists.
        this.collected.push(box.data);
        out.push({ kind: 'init', data: Buffer.concat(this.collected) });
        this.collected = [];
        this.initSent = true;
      } else {
        this.collected.push(box.data);
      }
    }
    return out;
  }

  private nextBox(): { type: string; data: Buffer } | undefined {
    const buf = this.pending;
    if (buf.length < 8) return undefined;
    let size = buf.readUInt32BE(0);
    let header = 8;
    if (size === 1) {
      if (buf.length < 16) return undefined;
      size = Number(buf.readBigUInt64BE(8));
      header = 16;
    }
    const type = buf.toString('latin1', 4, 8);
    if (size < header || size > MAX_BOX_BYTES) throw new Fmp4Error(`bad MP4 box "${type}" of ${size} bytes`);
    if (buf.length < size) return undefined;
    const data = Buffer.from(buf.subarray(0, size));
    this.pending = buf.subarray(size);
    return { type, data };
  }
}
