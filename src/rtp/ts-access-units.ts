/**
 * Turns the shared feed's MPEG-TS into H.264 access units: the video PES payloads, reassembled,
 * with their 90 kHz PTS and split into NAL units. A PES ends at its last byte when the muxer wrote
 * its length, or at its last TS packet, which the muxer pads with stuffing; failing both, where the
 * next PES starts (a frame interval later).
 */
import { MpegTsIndexer, TS_PACKET } from '../source/mpegts-indexer.js';
import { NAL_TYPE, nalType, splitAnnexB } from './h264-packetizer.js';

export interface AccessUnit {
  /** Presentation time, 90 kHz, 33 bits as the muxer wrote it. */
  pts: number;
  nals: Buffer[];
  keyframe: boolean;
  /** Whether the feed's video is H.264 (stream type 0x1b); anything else must not be packetized here. */
  h264: boolean;
}

export class TsAccessUnitReader {
  private readonly indexer = new MpegTsIndexer();
  private parts: Buffer[] = [];
  private bytes = 0;
  private expected = 0;
  private pts: number | undefined;
  private lastPts = 0;

  constructor(private readonly onAccessUnit: (unit: AccessUnit) => void) {}

  get videoStreamType(): number | undefined {
    return this.indexer.videoStreamType;
  }

  /** PTS of the access unit still being assembled (its end is known only when the next one starts). */
  get pendingPts(): number | undefined {
    return this.bytes > 0 ? this.pts : undefined;
  }

  push(chunk: Buffer): void {
    const { data } = this.indexer.push(chunk);
    const videoPid = this.indexer.videoPid;
    if (videoPid === undefined) return;
    for (let offset = 0; offset + TS_PACKET <= data.length; offset += TS_PACKET) {
      const p = data.subarray(offset, offset + TS_PACKET);
      const pid = (((p[1] ?? 0) & 0x1f) << 8) | (p[2] ?? 0);
      if (pid !== videoPid) continue;
      const afc = ((p[3] ?? 0) >> 4) & 0x3;
      if ((afc & 0x1) === 0) continue;
      const start = afc & 0x2 ? 5 + (p[4] ?? 0) : 4;
      if (start >= TS_PACKET) continue;
      const payload = p.subarray(start);
      if ((p[1] ?? 0) & 0x40) this.beginPes(payload);
      else if (this.pts !== undefined) this.append(payload);
      else continue;
      // The feed's muxer pads a PES's last packet with adaptation-field stuffing: the picture is
      // complete now, a frame interval before the next PES would say so.
      if (afc & 0x2 && endsWithStuffing(p)) this.flush();
    }
  }

  /** Hands on the access unit in progress (the feed ended, or a test wants the tail). */
  flush(): void {
    if (this.pts === undefined || this.bytes === 0) return;
    const data = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.bytes);
    const pts = this.pts;
    this.parts = [];
    this.bytes = 0;
    this.pts = undefined;
    const nals = splitAnnexB(data);
    if (nals.length === 0) return;
    this.onAccessUnit({
      pts,
      nals,
      keyframe: nals.some((nal) => nalType(nal) === NAL_TYPE.IDR),
      h264: this.indexer.videoStreamType === 0x1b,
    });
  }

  private beginPes(payload: Buffer): void {
    this.flush();
    if (payload.length < 9 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) return;
    const pesLength = payload.readUInt16BE(4);
    const flags = payload[7] ?? 0;
    const headerLength = payload[8] ?? 0;
    // A PES without PTS (allowed, rarely written) gets the previous one: RTP needs a timestamp.
    this.pts = flags & 0x80 && payload.length >= 14 ? readTimestamp(payload, 9) : this.lastPts;
    this.lastPts = this.pts;
    this.expected = pesLength > 0 ? pesLength - 3 - headerLength : 0;
    this.append(payload.subarray(9 + headerLength));
  }

  private append(payload: Buffer): void {
    // Stdout chunks are fresh per read; views stay valid while the access unit is assembled.
    this.parts.push(payload);
    this.bytes += payload.length;
    if (this.expected > 0 && this.bytes >= this.expected) this.flush();
  }
}

/**
 * Whether a TS packet's adaptation field holds stuffing, which a muxer writes only where the PES
 * payload ran out: the packet is the PES's last. Fields we cannot size (private data, extension)
 * answer no, leaving the end to the next PES start. A PCR alone (FFmpeg's mid-PES adaptation
 * field) has no stuffing.
 */
export function endsWithStuffing(p: Buffer): boolean {
  const length = p[4] ?? 0;
  // A zero-length field is FFmpeg's one byte of stuffing.
  if (length === 0) return true;
  const flags = p[5] ?? 0;
  if (flags & 0x03) return false;
  const used = 1 + (flags & 0x10 ? 6 : 0) + (flags & 0x08 ? 6 : 0) + (flags & 0x04 ? 1 : 0);
  return length > used && p[4 + length] === 0xff;
}

/** The 33-bit PTS/DTS layout: 3 + 15 + 15 bits with marker bits between (ISO 13818-1 §2.4.3.7). */
export function readTimestamp(b: Buffer, at: number): number {
  const high = ((b[at] ?? 0) >> 1) & 0x07;
  const mid = (((b[at + 1] ?? 0) << 8) | (b[at + 2] ?? 0)) >> 1;
  const low = (((b[at + 3] ?? 0) << 8) | (b[at + 4] ?? 0)) >> 1;
  return high * 0x40000000 + mid * 0x8000 + low;
}
