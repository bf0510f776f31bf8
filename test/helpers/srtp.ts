/**
 * SRTP/SRTCP for AES_CM_128_HMAC_SHA1_80 (RFC 3711), key derivation rate 0.
 * Just enough for a test controller: verify + decrypt what an accessory sends,
 * and protect the RTCP receiver reports we send back.
 */
import { createCipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SrtpKeys {
  /** 16-byte master key. */
  key: Buffer;
  /** 14-byte master salt. */
  salt: Buffer;
}

const TAG_LEN = 10;
const SRTCP_INDEX_LEN = 4;

export function makeKeys(): SrtpKeys {
  return { key: randomBytes(16), salt: randomBytes(14) };
}

/** The `key||salt` base64 string FFmpeg's -srtp_out_params / srtp_in_params expects. */
export function keysToBase64(keys: SrtpKeys): string {
  return Buffer.concat([keys.key, keys.salt]).toString('base64');
}

export function keysFromBase64(b64: string): SrtpKeys {
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 30) throw new Error(`SRTP params must be 30 bytes, got ${raw.length}`);
  return { key: raw.subarray(0, 16), salt: raw.subarray(16) };
}

function aesCm(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  // AES-CM is CTR mode; a packet never spans 2^16 blocks, so the low 16-bit
  // counter of the IV can't overflow into the salt part.
  const c = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** RFC 3711 §4.3.1 with kdr = 0 (r = 0). */
export function deriveSessionKey(master: SrtpKeys, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  master.salt.copy(iv, 0, 0, 14);
  iv[7] = (iv[7] as number) ^ label;
  return aesCm(master.key, iv, Buffer.alloc(length));
}

interface SessionKeys {
  enc: Buffer;
  auth: Buffer;
  salt: Buffer;
}

function packetIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  // index is up to 48 bits: high 16 into bytes 8..9, low 32 into 10..13
  const hi = Math.floor(index / 0x1_0000_0000) & 0xffff;
  const lo = index >>> 0;
  iv.writeUInt16BE((iv.readUInt16BE(8) ^ hi) & 0xffff, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ lo) >>> 0, 10);
  return iv;
}

function tag(authKey: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha1', authKey);
  for (const p of parts) h.update(p);
  return h.digest().subarray(0, TAG_LEN);
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Length of the RTP header incl. CSRCs and extension, or -1 if malformed. */
export function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < 12) return -1;
  const b0 = packet[0] as number;
  if (b0 >> 6 !== 2) return -1;
  let len = 12 + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (packet.length < len + 4) return -1;
    len += 4 + 4 * packet.readUInt16BE(len + 2);
  }
  return len <= packet.length ? len : -1;
}

interface RxState {
  roc: number;
  /** Highest sequence number authenticated so far (s_l in RFC 3711). */
  sl: number;
  /** Highest packet index accepted and the 64-packet replay bitmap below it (RFC 3711 §3.3.2). */
  highest: number;
  window: bigint;
}

const REPLAY_WINDOW = 64;

interface TxState {
  roc: number;
  lastSeq: number;
}

export interface SrtpStats {
  rtpOk: number;
  rtcpOk: number;
  rtpAuthFailures: number;
  rtcpAuthFailures: number;
  malformed: number;
  /** Authentic packets refused as replays: an index already received or older than the window. */
  rtpReplays: number;
}

/**
 * One direction of one SRTP session (one master key). ROC is tracked per SSRC
 * because a session may carry several sources.
 */
export class SrtpContext {
  private readonly rtp: SessionKeys;
  private readonly rtcp: SessionKeys;
  private readonly rx = new Map<number, RxState>();
  private readonly tx = new Map<number, TxState>();
  private rtcpTxIndex = 0;
  readonly stats: SrtpStats = { rtpOk: 0, rtcpOk: 0, rtpAuthFailures: 0, rtcpAuthFailures: 0, malformed: 0, rtpReplays: 0 };

  constructor(readonly master: SrtpKeys) {
    if (master.key.length !== 16) throw new Error(`SRTP master key must be 16 bytes, got ${master.key.length}`);
    if (master.salt.length !== 14) throw new Error(`SRTP master salt must be 14 bytes, got ${master.salt.length}`);
    this.rtp = {
      enc: deriveSessionKey(master, 0, 16),
      auth: deriveSessionKey(master, 1, 20),
      salt: deriveSessionKey(master, 2, 14),
    };
    this.rtcp = {
      enc: deriveSessionKey(master, 3, 16),
      auth: deriveSessionKey(master, 4, 20),
      salt: deriveSessionKey(master, 5, 14),
    };
  }

  /** Total authentication failures (RTP + RTCP). */
  get authFailures(): number {
    return this.stats.rtpAuthFailures + this.stats.rtcpAuthFailures;
  }

  rocOf(ssrc: number): number | undefined {
    return this.rx.get(ssrc >>> 0)?.roc;
  }

  /** Verify and decrypt an SRTP packet. Returns plain RTP, or null (counted) on failure. */
  unprotectRtp(packet: Buffer): Buffer | null {
    const hlen = rtpHeaderLength(packet.subarray(0, Math.max(0, packet.length - TAG_LEN)));
    if (hlen < 0 || packet.length < hlen + TAG_LEN) {
      this.stats.malformed++;
      this.stats.rtpAuthFailures++;
      return null;
    }
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const state = this.rx.get(ssrc);
    // RFC 3711 Appendix A index estimation.
    let v = 0;
    if (state) {
      v = state.roc;
      if (state.sl < 32768) {
        if (seq - state.sl > 32768) v = state.roc - 1;
      } else if (state.sl - 32768 > seq) {
        v = state.roc + 1;
      }
      if (v < 0) v = 0;
    }
    const body = packet.subarray(0, packet.length - TAG_LEN);
    const expected = tag(this.rtp.auth, body, u32be(v));
    if (!timingSafeEqual(expected, packet.subarray(packet.length - TAG_LEN))) {
      this.stats.rtpAuthFailures++;
      return null;
    }
    const index = v * 65536 + seq;
    if (state && !acceptIndex(state, index)) {
      // A sender that restarts its sequence (a new FFmpeg after RECONFIGURE) lands here.
      this.stats.rtpReplays++;
      return null;
    }
    const plain = aesCm(this.rtp.enc, packetIv(this.rtp.salt, ssrc, index), body.subarray(hlen));
    if (!state) {
      this.rx.set(ssrc, { roc: v, sl: seq, highest: index, window: 1n });
    } else if (v > state.roc) {
      state.roc = v;
      state.sl = seq;
    } else if (v === state.roc && seq > state.sl) {
      state.sl = seq;
    }
    this.stats.rtpOk++;
    return Buffer.concat([body.subarray(0, hlen), plain]);
  }

  /** Encrypt + authenticate a plain RTP packet (used by tests to fabricate streams). */
  protectRtp(plain: Buffer): Buffer {
    const hlen = rtpHeaderLength(plain);
    if (hlen < 0) throw new Error('malformed RTP packet');
    const seq = plain.readUInt16BE(2);
    const ssrc = plain.readUInt32BE(8);
    let st = this.tx.get(ssrc);
    if (!st) {
      st = { roc: 0, lastSeq: seq };
      this.tx.set(ssrc, st);
    } else {
      if (seq < st.lastSeq && st.lastSeq - seq > 32768) st.roc++;
      st.lastSeq = seq;
    }
    const index = st.roc * 65536 + seq;
    const enc = aesCm(this.rtp.enc, packetIv(this.rtp.salt, ssrc, index), plain.subarray(hlen));
    const body = Buffer.concat([plain.subarray(0, hlen), enc]);
    return Buffer.concat([body, tag(this.rtp.auth, body, u32be(st.roc))]);
  }

  /** SRTCP with the E flag set and a 31-bit index (RFC 3711 §3.4). */
  protectRtcp(plain: Buffer): Buffer {
    if (plain.length < 8) throw new Error('RTCP packet shorter than 8 bytes');
    const ssrc = plain.readUInt32BE(4);
    const index = this.rtcpTxIndex;
    this.rtcpTxIndex = (this.rtcpTxIndex + 1) & 0x7fffffff;
    const enc = aesCm(this.rtcp.enc, packetIv(this.rtcp.salt, ssrc, index), plain.subarray(8));
    const body = Buffer.concat([plain.subarray(0, 8), enc, u32be(0x80000000 | index)]);
    return Buffer.concat([body, tag(this.rtcp.auth, body)]);
  }

  /** Verify and (if E is set) decrypt SRTCP. Returns plain compound RTCP, or null (counted). */
  unprotectRtcp(packet: Buffer): Buffer | null {
    if (packet.length < 8 + SRTCP_INDEX_LEN + TAG_LEN) {
      this.stats.malformed++;
      this.stats.rtcpAuthFailures++;
      return null;
    }
    const body = packet.subarray(0, packet.length - TAG_LEN);
    if (!timingSafeEqual(tag(this.rtcp.auth, body), packet.subarray(packet.length - TAG_LEN))) {
      this.stats.rtcpAuthFailures++;
      return null;
    }
    const trailer = body.readUInt32BE(body.length - SRTCP_INDEX_LEN);
    const encrypted = (trailer & 0x80000000) !== 0;
    const index = trailer & 0x7fffffff;
    const payload = body.subarray(8, body.length - SRTCP_INDEX_LEN);
    const ssrc = packet.readUInt32BE(4);
    const plain = encrypted ? aesCm(this.rtcp.enc, packetIv(this.rtcp.salt, ssrc, index), payload) : Buffer.from(payload);
    this.stats.rtcpOk++;
    return Buffer.concat([packet.subarray(0, 8), plain]);
  }
}

function acceptIndex(state: RxState, index: number): boolean {
  if (index > state.highest) {
    const shift = index - state.highest;
    state.window = shift >= REPLAY_WINDOW ? 1n : ((state.window << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
    state.highest = index;
    return true;
  }
  const behind = state.highest - index;
  if (behind >= REPLAY_WINDOW) return false;
  const bit = 1n << BigInt(behind);
  if (state.window & bit) return false;
  state.window |= bit;
  return true;
}

/** RFC 5761 demux: RTCP packet types 192..223 sit where RTP marker+PT would be. */
export function isRtcp(packet: Buffer): boolean {
  if (packet.length < 2) return false;
  const pt = packet[1] as number;
  return pt >= 192 && pt <= 223;
}
