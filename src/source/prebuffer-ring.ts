/**
 * The last few seconds of the camera's shared feed, as whole GOPs, so a HomeKit Secure Video
 * recording can start `prebufferLength` before the motion that triggered it. Kept only while a hub
 * has recording Active; bounded by time (the oldest GOP still needed) and by bytes.
 */
import { TS_PACKET, type IndexedChunk } from './mpegts-indexer.js';
import type { GopSnapshot } from './gop-cache.js';

interface Gop {
  /** When its keyframe arrived (ms, the source's clock). */
  at: number;
  packets: Buffer[];
  bytes: number;
  frames: number;
}

export class PrebufferRing {
  private pat: Buffer | undefined;
  private pmt: Buffer | undefined;
  private gops: Gop[] = [];
  private bytes = 0;

  /**
   * @param keepMs  how far back a recording may start (the GOP at or before now - keepMs is kept).
   * @param maxBytes a bound for very high bitrates: the oldest GOPs go first.
   */
  constructor(private keepMs: number, private readonly maxBytes = 64 * 1024 * 1024) {}

  setKeepMs(ms: number): void {
    this.keepMs = ms;
  }

  add(chunk: IndexedChunk, now: number): void {
    let from = 0;
    const flush = (to: number): void => {
      const gop = this.gops.at(-1);
      if (!gop || to <= from) return;
      const part = chunk.data.subarray(from * TS_PACKET, to * TS_PACKET);
      gop.packets.push(part);
      gop.bytes += part.length;
      this.bytes += part.length;
    };
    chunk.kinds.forEach((kind, i) => {
      if (kind === 'pat') this.pat = Buffer.from(chunk.data.subarray(i * TS_PACKET, (i + 1) * TS_PACKET));
      else if (kind === 'pmt') this.pmt = Buffer.from(chunk.data.subarray(i * TS_PACKET, (i + 1) * TS_PACKET));
      else if (kind === 'keyframe-start') {
        flush(i);
        from = i;
        this.gops.push({ at: now, packets: [], bytes: 0, frames: 1 });
      } else if (kind === 'frame-start') {
        const gop = this.gops.at(-1);
        if (gop) gop.frames++;
      }
    });
    flush(chunk.kinds.length);
    this.prune(now);
  }

  private prune(now: number): void {
    // Keep the newest GOP that starts at or before now - keepMs, so every keyframe after it is a candidate start.
    while (this.gops.length > 1 && (this.gops[1]?.at ?? Infinity) <= now - this.keepMs) this.drop();
    while (this.gops.length > 1 && this.bytes > this.maxBytes) this.drop();
  }

  private drop(): void {
    const gop = this.gops.shift();
    if (gop) this.bytes -= gop.bytes;
  }

  /** How far back the ring reaches now (0 when empty). */
  spanMs(now: number): number {
    const first = this.gops[0];
    return first ? now - first.at : 0;
  }

  /** The longest keyframe interval seen in the ring, when at least two keyframes are in it. */
  gopMs(): number | undefined {
    let longest: number | undefined;
    for (let i = 1; i < this.gops.length; i++) {
      const a = this.gops[i - 1];
      const b = this.gops[i];
      if (a && b) longest = Math.max(longest ?? 0, b.at - a.at);
    }
    return longest;
  }

  /**
   * PAT + PMT + every packet from the keyframe nearest to now - ms (the older one on a tie, the
   * oldest kept when the ring is shorter): a clip then starts within half a GOP of the asked time.
   */
  from(ms: number, now: number): GopSnapshot | undefined {
    if (!this.pat || !this.pmt || this.gops.length === 0) return undefined;
    const target = now - ms;
    let start = 0;
    for (let i = 1; i < this.gops.length; i++) {
      const at = this.gops[i]?.at ?? Infinity;
      const best = this.gops[start]?.at ?? -Infinity;
      if (Math.abs(at - target) < Math.abs(best - target)) start = i;
    }
    const gops = this.gops.slice(start);
    const first = gops[0];
    if (!first) return undefined;
    return {
      data: Buffer.concat([this.pat, this.pmt, ...gops.flatMap((g) => g.packets)]),
      frames: gops.reduce((n, g) => n + g.frames, 0),
      keyframeAt: first.at,
    };
  }

  clear(): void {
    this.gops = [];
    this.bytes = 0;
  }
}
