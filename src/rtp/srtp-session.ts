/**
 * SRTP/SRTCP for AES_CM_128_HMAC_SHA1_80 (RFC 3711), key derivation rate 0: what an accessory needs
 * to send a viewer's RTP and sender reports, and to check that the RTCP it receives was written by
 * the viewer (it holds the same master key; HomeKit uses one key per medium for both directions).
 */
import { createCipheriv, createHash, createHmac, timingSafeEqual, type Cipher, type Hash } from 'node:crypto';

const TAG_BYTES = 10;
/** SRTCP's E flag + 31-bit index trailer. */
const SRTCP_TRAILER_BYTES = 4;
/** Bytes SRTP adds to an RTP packet: callers size payloads so the datagram fits the MTU. */
export const SRTP_OVERHEAD = TAG_BYTES;

export interface SrtpSessionKeys {
  cipher: Buffer;
  auth: Buffer;
  salt: Buffer;
}

/** AES-CM is AES-CTR with the IV built from salt, SSRC and index (RFC 3711 §4.1.1). */
export function aesCm(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** RFC 3711 §4.3.1 with kdr = 0: key_id = label || 0^48, XORed into the salt. */
export function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, bytes: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, 14);
  iv[7] = (iv[7] ?? 0) ^ label;
  return aesCm(masterKey, iv, Buffer.alloc(bytes));
}

export function deriveSessionKeys(masterKey: Buffer, masterSalt: Buffer, rtcp: boolean): SrtpSessionKeys {
  const base = rtcp ? 3 : 0;
  return {
    cipher: deriveKey(masterKey, masterSalt, base, 16),
    auth: deriveKey(masterKey, masterSalt, base + 1, 20),
    salt: deriveKey(masterKey, masterSalt, base + 2, 14),
  };
}

/** IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16); index is 48 bits for SRTP, 31 for SRTCP. */
export function packetIv(salt: Buffer, ssrc: number, index: number): Buffer {
  return packetIvInto(Buffer.alloc(16), salt, ssrc, index);
}

function packetIvInto(iv: Buffer, salt: Buffer, ssrc: number, index: number): Buffer {
  salt.copy(iv, 0, 0, 14);
  iv[14] = 0;
  iv[15] = 0;
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const high = Math.floor(index / 0x1_0000_0000) & 0xffff;
  iv.writeUInt16BE((iv.readUInt16BE(8) ^ high) & 0xffff, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ (index >>> 0)) >>> 0, 10);
  return iv;
}

/**
 * AES-CM for the per-packet path: one ECB cipher for the session's life encrypts the counter blocks
 * (IV with the block number in its low 16 bits), XORed into the payload. Same bytes as aesCm(), at a
 * fraction of the cost: a fresh createCipheriv per packet dominated the copy viewer's CPU.
 */
export class AesCmKeystream {
  private readonly ecb: Cipher;
  /** Counter blocks, reused: only the IV part is rewritten per packet. */
  private counters = Buffer.alloc(0);

  constructor(key: Buffer) {
    this.ecb = createCipheriv('aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
  }

  /** XORs the keystream for `iv` into data[from..to), in place. */
  apply(iv: Buffer, data: Buffer, from: number, to = data.length): void {
    const length = to - from;
    if (length <= 0) return;
    const blocks = Math.ceil(length / 16);
    if (this.counters.length < blocks * 16) this.counters = Buffer.alloc(Math.max(blocks * 16, 2048));
    const counters = this.counters;
    for (let j = 0; j < blocks; j++) {
      const at = j * 16;
      iv.copy(counters, at, 0, 14);
      counters[at + 14] = j >>> 8;
      counters[at + 15] = j & 0xff;
    }
    const stream = this.ecb.update(blocks * 16 === counters.length ? counters : counters.subarray(0, blocks * 16));
    xorInto(data, from, stream, length);
  }
}

/**
 * data[from..from+length) ^= stream[0..length). Word-wise through Int32Array views where both sides
 * are 4-byte aligned (pool slices and crypto output are): XOR through Buffer's readInt32LE and
 * writeInt32LE was the largest single cost of a copy viewer.
 */
function xorInto(data: Buffer, from: number, stream: Buffer, length: number): void {
  const words = length >>> 2;
  const a = data.byteOffset + from;
  let i = 0;
  if (words > 0 && (a & 3) === 0 && (stream.byteOffset & 3) === 0) {
    const d = new Int32Array(data.buffer, a, words);
    const k = new Int32Array(stream.buffer, stream.byteOffset, words);
    for (let w = 0; w < words; w++) d[w] = (d[w] as number) ^ (k[w] as number);
    i = words << 2;
  }
  for (; i < length; i++) data[from + i] = (data[from + i] as number) ^ (stream[i] as number);
}

/** HMAC-SHA1 with the keyed inner and outer states computed once and copied per packet. */
class Sha1Hmac80 {
  private readonly inner: Hash;
  private readonly outer: Hash;

  constructor(key: Buffer) {
    const ipad = Buffer.alloc(64, 0x36);
    const opad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i] = (ipad[i] as number) ^ (key[i] as number);
      opad[i] = (opad[i] as number) ^ (key[i] as number);
    }
    this.inner = createHash('sha1').update(ipad);
    this.outer = createHash('sha1').update(opad);
  }

  tag(data: Buffer): Buffer {
    const inner = this.inner.copy().update(data).digest();
    return this.outer.copy().update(inner).digest().subarray(0, TAG_BYTES);
  }
}

function hmac80(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha1', key);
  for (const part of parts) h.update(part);
  return h.digest().subarray(0, TAG_BYTES);
}

export type SrtcpCheck = { ok: true; plain: Buffer; index: number } | { ok: false; why: 'short' | 'auth' | 'replay' };

/**
 * One medium of one viewer. The sender side owns the rollover counter: callers hand it RTP with
 * consecutive 16-bit sequence numbers and it counts the wraps (the RTP sequence wraps every 65,536
 * packets, ~11 min at 100 packets/s, and ROC is part of both the IV and the tag).
 */
export class SrtpSession {
  private readonly rtp: SrtpSessionKeys;
  private readonly rtcp: SrtpSessionKeys;
  private readonly rtpCipher: AesCmKeystream;
  private readonly rtpAuth: Sha1Hmac80;
  private roc = 0;
  /** Scratch for the per-packet IV. */
  private readonly iv = Buffer.alloc(16);
  private lastSeq: number | undefined;
  private rtcpIndex = 0;
  /** Highest SRTCP index accepted, and a 64-bit replay bitmap below it (RFC 3711 §3.3.2). */
  private rtcpHighest = -1;
  private rtcpWindow = 0n;

  constructor(keyAndSalt: Buffer) {
    if (keyAndSalt.length !== 30) throw new Error(`SRTP key and salt must be 30 bytes, got ${keyAndSalt.length}`);
    const key = keyAndSalt.subarray(0, 16);
    const salt = keyAndSalt.subarray(16);
    this.rtp = deriveSessionKeys(key, salt, false);
    this.rtcp = deriveSessionKeys(key, salt, true);
    this.rtpCipher = new AesCmKeystream(this.rtp.cipher);
    this.rtpAuth = new Sha1Hmac80(this.rtp.auth);
  }

  /** For tests that start near a wrap: the ROC that the next packet's index will use. */
  get rolloverCounter(): number {
    return this.roc;
  }

  /** Encrypts and tags a plain RTP packet whose header is `headerBytes` long (12 for ours). */
  protectRtp(plain: Buffer, headerBytes = 12): Buffer {
    const out = Buffer.allocUnsafe(plain.length + TAG_BYTES);
    plain.copy(out, 0);
    this.protectRtpInPlace(out, plain.length, headerBytes);
    return out;
  }

  /**
   * The per-packet path: `packet` holds the plain RTP packet in [0, plainLength) and room for the
   * tag after it; it is encrypted and tagged where it lies, so a packet costs one allocation.
   */
  protectRtpInPlace(packet: Buffer, plainLength: number, headerBytes = 12): void {
    if (packet.length < plainLength + TAG_BYTES) throw new Error('no room for the SRTP tag');
    const seq = (packet[2] as number) << 8 | (packet[3] as number);
    const ssrc = packet.readUInt32BE(8);
    if (this.lastSeq !== undefined && seq < this.lastSeq && this.lastSeq - seq > 0x8000) this.roc = (this.roc + 1) >>> 0;
    this.lastSeq = seq;
    const index = this.roc * 0x10000 + seq;
    this.rtpCipher.apply(packetIvInto(this.iv, this.rtp.salt, ssrc, index), packet, headerBytes, plainLength);
    // The tag covers packet || ROC: the ROC goes where the tag will be, so one hash update covers both.
    packet.writeUInt32BE(this.roc, plainLength);
    this.rtpAuth.tag(packet.subarray(0, plainLength + 4)).copy(packet, plainLength);
  }

  /** SRTCP with the E flag set (RFC 3711 §3.4): the first 8 bytes stay clear, the rest is encrypted. */
  protectRtcp(plain: Buffer): Buffer {
    const ssrc = plain.readUInt32BE(4);
    const index = this.rtcpIndex;
    this.rtcpIndex = (this.rtcpIndex + 1) & 0x7fffffff;
    const body = Buffer.allocUnsafe(plain.length + SRTCP_TRAILER_BYTES);
    plain.copy(body, 0, 0, 8);
    aesCm(this.rtcp.cipher, packetIv(this.rtcp.salt, ssrc, index), plain.subarray(8)).copy(body, 8);
    body.writeUInt32BE((0x80000000 | index) >>> 0, plain.length);
    return Buffer.concat([body, hmac80(this.rtcp.auth, body)]);
  }

  /**
   * Authenticates (and decrypts) an SRTCP packet from the viewer. A packet that fails the tag, or
   * repeats an index already seen, proves nothing about the viewer and is refused.
   */
  unprotectRtcp(packet: Buffer): SrtcpCheck {
    if (packet.length < 8 + SRTCP_TRAILER_BYTES + TAG_BYTES) return { ok: false, why: 'short' };
    const body = packet.subarray(0, packet.length - TAG_BYTES);
    const tag = packet.subarray(packet.length - TAG_BYTES);
    if (!timingSafeEqual(hmac80(this.rtcp.auth, body), tag)) return { ok: false, why: 'auth' };
    const trailer = body.readUInt32BE(body.length - SRTCP_TRAILER_BYTES);
    const index = trailer & 0x7fffffff;
    if (!this.acceptRtcpIndex(index)) return { ok: false, why: 'replay' };
    const payload = body.subarray(8, body.length - SRTCP_TRAILER_BYTES);
    const encrypted = (trailer & 0x80000000) !== 0;
    const clear = encrypted ? aesCm(this.rtcp.cipher, packetIv(this.rtcp.salt, packet.readUInt32BE(4), index), payload) : payload;
    return { ok: true, plain: Buffer.concat([packet.subarray(0, 8), clear]), index };
  }

  private acceptRtcpIndex(index: number): boolean {
    if (index > this.rtcpHighest) {
      const shift = index - this.rtcpHighest;
      this.rtcpWindow = shift >= 64 ? 1n : ((this.rtcpWindow << BigInt(shift)) | 1n) & 0xffff_ffff_ffff_ffffn;
      this.rtcpHighest = index;
      return true;
    }
    const behind = this.rtcpHighest - index;
    if (behind >= 64) return false;
    const bit = 1n << BigInt(behind);
    if (this.rtcpWindow & bit) return false;
    this.rtcpWindow |= bit;
    return true;
  }
}
