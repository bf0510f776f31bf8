/**
 * RTP parsing, an RFC 6184 H.264 depacketizer (packetization-mode 1: single
 * NAL, STAP-A, FU-A) producing Annex-B, and minimal RTCP (RR build, SR parse).
 */

export interface RtpPacket {
  version: number;
  padding: boolean;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  extension?: { profile: number; data: Buffer };
  /** Payload with padding removed. */
  payload: Buffer;
  paddingLength: number;
}

/** Parse a plain (already decrypted) RTP packet; null if it isn't valid RTP v2. */
export function parseRtp(buf: Buffer): RtpPacket | null {
  if (buf.length < 12) return null;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  if (b0 >> 6 !== 2) return null;
  const cc = b0 & 0x0f;
  let pos = 12;
  if (buf.length < pos + 4 * cc) return null;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++, pos += 4) csrcs.push(buf.readUInt32BE(pos));
  let extension: RtpPacket['extension'];
  if (b0 & 0x10) {
    if (buf.length < pos + 4) return null;
    const profile = buf.readUInt16BE(pos);
    const words = buf.readUInt16BE(pos + 2);
    pos += 4;
    if (buf.length < pos + 4 * words) return null;
    extension = { profile, data: buf.subarray(pos, pos + 4 * words) };
    pos += 4 * words;
  }
  let end = buf.length;
  let paddingLength = 0;
  if (b0 & 0x20) {
    paddingLength = buf[buf.length - 1] as number;
    if (paddingLength === 0 || pos + paddingLength > buf.length) return null;
    end -= paddingLength;
  }
  return {
    version: 2,
    padding: (b0 & 0x20) !== 0,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    extension,
    payload: buf.subarray(pos, end),
    paddingLength,
  };
}

/** Build a minimal RTP packet (tests). */
export function buildRtp(opts: {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  payload: Buffer;
  csrcs?: number[];
  extension?: { profile: number; data: Buffer };
  padding?: number;
}): Buffer {
  const csrcs = opts.csrcs ?? [];
  const head = Buffer.alloc(12 + 4 * csrcs.length);
  head[0] = 0x80 | (opts.padding ? 0x20 : 0) | (opts.extension ? 0x10 : 0) | csrcs.length;
  head[1] = (opts.marker ? 0x80 : 0) | (opts.payloadType & 0x7f);
  head.writeUInt16BE(opts.sequence & 0xffff, 2);
  head.writeUInt32BE(opts.timestamp >>> 0, 4);
  head.writeUInt32BE(opts.ssrc >>> 0, 8);
  csrcs.forEach((c, i) => head.writeUInt32BE(c >>> 0, 12 + 4 * i));
  const parts: Buffer[] = [head];
  if (opts.extension) {
    if (opts.extension.data.length % 4 !== 0) throw new Error('extension data must be 32-bit aligned');
    const eh = Buffer.alloc(4);
    eh.writeUInt16BE(opts.extension.profile, 0);
    eh.writeUInt16BE(opts.extension.data.length / 4, 2);
    parts.push(eh, opts.extension.data);
  }
  parts.push(opts.payload);
  if (opts.padding) {
    const pad = Buffer.alloc(opts.padding);
    pad[opts.padding - 1] = opts.padding;
    parts.push(pad);
  }
  return Buffer.concat(parts);
}

export const NAL = {
  SLICE: 1,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
  STAP_A: 24,
  STAP_B: 25,
  MTAP16: 26,
  MTAP24: 27,
  FU_A: 28,
  FU_B: 29,
} as const;

const START_CODE = Buffer.from([0, 0, 0, 1]);

export interface DepacketizerStats {
  packets: number;
  /** Complete NAL units emitted. */
  nals: number;
  nalTypes: Record<number, number>;
  /** Sequence-number gaps observed (lost or reordered packets). */
  gaps: number;
  /** FU-A fragments dropped because their start was lost. */
  droppedFragments: number;
  /** Packets with a NAL type we don't handle (STAP-B, MTAP, FU-B, reserved). */
  unsupported: number;
  /** Distinct RTP timestamps that carried at least one VCL NAL (≈ frames). */
  accessUnits: number;
  /** Access units from the first IDR on (what a decoder can show). */
  accessUnitsSinceIdr: number;
}

/**
 * H.264 RTP → Annex-B. Assumes in-order delivery (loopback); a sequence gap
 * inside an FU-A drops that NAL rather than emitting a corrupt one.
 */
export class H264Depacketizer {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private fu: Buffer[] | undefined;
  private lastSeq: number | undefined;
  private lastVclTs: number | undefined;
  sawSps = false;
  sawPps = false;
  sawIdr = false;
  /** RTP timestamp of the first packet carrying IDR data. */
  firstIdrTimestamp: number | undefined;
  /** Arrival time (caller's clock) of the first IDR packet. */
  firstIdrArrival: number | undefined;
  firstPacketArrival: number | undefined;
  /** First SPS NAL (header byte included): [1] profile_idc, [3] level_idc. */
  sps: Buffer | undefined;
  readonly stats: DepacketizerStats = {
    packets: 0,
    nals: 0,
    nalTypes: {},
    gaps: 0,
    droppedFragments: 0,
    unsupported: 0,
    accessUnits: 0,
    accessUnitsSinceIdr: 0,
  };

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** Feed one parsed RTP packet; arrival is any monotonic ms clock. */
  push(pkt: RtpPacket, arrival: number): void {
    this.stats.packets++;
    this.firstPacketArrival ??= arrival;
    if (this.lastSeq !== undefined && pkt.sequence !== ((this.lastSeq + 1) & 0xffff)) {
      this.stats.gaps++;
      if (this.fu) {
        this.fu = undefined;
        this.stats.droppedFragments++;
      }
    }
    this.lastSeq = pkt.sequence;
    const p = pkt.payload;
    if (p.length < 1) return;
    const type = (p[0] as number) & 0x1f;
    if (type >= 1 && type <= 23) {
      this.emit(p, pkt, arrival);
    } else if (type === NAL.STAP_A) {
      let pos = 1;
      while (pos + 2 <= p.length) {
        const size = p.readUInt16BE(pos);
        pos += 2;
        if (size === 0 || pos + size > p.length) break;
        this.emit(p.subarray(pos, pos + size), pkt, arrival);
        pos += size;
      }
    } else if (type === NAL.FU_A) {
      if (p.length < 3) return;
      const indicator = p[0] as number;
      const header = p[1] as number;
      const start = (header & 0x80) !== 0;
      const end = (header & 0x40) !== 0;
      if (start) {
        this.fu = [Buffer.from([(indicator & 0xe0) | (header & 0x1f)]), p.subarray(2)];
      } else if (this.fu) {
        this.fu.push(p.subarray(2));
      } else {
        this.stats.droppedFragments++;
        return;
      }
      if (end && this.fu) {
        const nal = Buffer.concat(this.fu);
        this.fu = undefined;
        this.emit(nal, pkt, arrival);
      }
    } else {
      this.stats.unsupported++;
    }
  }

  private emit(nal: Buffer, pkt: RtpPacket, arrival: number): void {
    const type = (nal[0] as number) & 0x1f;
    this.stats.nals++;
    this.stats.nalTypes[type] = (this.stats.nalTypes[type] ?? 0) + 1;
    if (type === NAL.SPS) {
      this.sawSps = true;
      this.sps ??= Buffer.from(nal);
    }
    if (type === NAL.PPS) this.sawPps = true;
    if (type === NAL.IDR && !this.sawIdr) {
      this.sawIdr = true;
      this.firstIdrTimestamp = pkt.timestamp;
      this.firstIdrArrival = arrival;
    }
    if (type >= 1 && type <= 5 && pkt.timestamp !== this.lastVclTs) {
      this.lastVclTs = pkt.timestamp;
      this.stats.accessUnits++;
      if (this.sawIdr) this.stats.accessUnitsSinceIdr++;
    }
    if (this.bytes + nal.length + 4 <= this.maxBytes) {
      this.chunks.push(START_CODE, Buffer.from(nal));
      this.bytes += nal.length + 4;
    }
  }

  annexB(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** profile_idc (66 baseline, 77 main, 100 high) and level_idc (31 = 3.1 …) from the first SPS. */
  get spsProfile(): { profileIdc: number; levelIdc: number } | undefined {
    if (!this.sps || this.sps.length < 4) return undefined;
    return { profileIdc: this.sps[1] as number, levelIdc: this.sps[3] as number };
  }

  get byteLength(): number {
    return this.bytes;
  }
}

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  highestSeq: number;
  jitter: number;
  /** Middle 32 bits of the last SR's NTP timestamp (0 if none). */
  lsr: number;
  /** Delay since last SR in 1/65536 s. */
  dlsr: number;
}

/** RTCP RR (PT 201), optionally followed by an SDES CNAME so the compound packet is RFC-valid. */
export function buildReceiverReport(senderSsrc: number, blocks: readonly ReportBlock[], cname?: string): Buffer {
  const rr = Buffer.alloc(8 + 24 * blocks.length);
  rr[0] = 0x80 | blocks.length;
  rr[1] = 201;
  rr.writeUInt16BE(rr.length / 4 - 1, 2);
  rr.writeUInt32BE(senderSsrc >>> 0, 4);
  blocks.forEach((b, i) => {
    const o = 8 + 24 * i;
    rr.writeUInt32BE(b.ssrc >>> 0, o);
    rr[o + 4] = b.fractionLost & 0xff;
    rr.writeUIntBE(Math.max(0, Math.min(b.cumulativeLost, 0x7fffff)), o + 5, 3);
    rr.writeUInt32BE(b.highestSeq >>> 0, o + 8);
    rr.writeUInt32BE(b.jitter >>> 0, o + 12);
    rr.writeUInt32BE(b.lsr >>> 0, o + 16);
    rr.writeUInt32BE(b.dlsr >>> 0, o + 20);
  });
  if (cname === undefined) return rr;
  const name = Buffer.from(cname, 'utf8').subarray(0, 255);
  // chunk: ssrc, CNAME item, end-of-list null, pad to 32 bits
  const chunkLen = 4 + 2 + name.length + 1;
  const padded = Math.ceil(chunkLen / 4) * 4;
  const sdes = Buffer.alloc(4 + padded);
  sdes[0] = 0x81;
  sdes[1] = 202;
  sdes.writeUInt16BE(sdes.length / 4 - 1, 2);
  sdes.writeUInt32BE(senderSsrc >>> 0, 4);
  sdes[8] = 1;
  sdes[9] = name.length;
  name.copy(sdes, 10);
  return Buffer.concat([rr, sdes]);
}

export interface RtcpPacketInfo {
  packetType: number;
  count: number;
  ssrc: number;
  /** For SR (200): middle 32 bits of the NTP timestamp, used as LSR in our RRs. */
  ntpMiddle?: number;
  rtpTimestamp?: number;
  senderPacketCount?: number;
  senderOctetCount?: number;
}

/** Split a (decrypted) compound RTCP packet into its parts. */
export function parseRtcpCompound(buf: Buffer): RtcpPacketInfo[] {
  const out: RtcpPacketInfo[] = [];
  let pos = 0;
  while (pos + 8 <= buf.length) {
    const b0 = buf[pos] as number;
    if (b0 >> 6 !== 2) break;
    const pt = buf[pos + 1] as number;
    const len = (buf.readUInt16BE(pos + 2) + 1) * 4;
    if (pos + len > buf.length) break;
    const info: RtcpPacketInfo = { packetType: pt, count: b0 & 0x1f, ssrc: buf.readUInt32BE(pos + 4) };
    if (pt === 200 && len >= 28) {
      info.ntpMiddle = ((buf.readUInt32BE(pos + 8) & 0xffff) * 65536 + (buf.readUInt32BE(pos + 12) >>> 16)) >>> 0;
      info.rtpTimestamp = buf.readUInt32BE(pos + 16);
      info.senderPacketCount = buf.readUInt32BE(pos + 20);
      info.senderOctetCount = buf.readUInt32BE(pos + 24);
    }
    out.push(info);
    pos += len;
  }
  return out;
}
