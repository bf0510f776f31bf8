/**
 * TLV8 as used by HAP (camera characteristics, pairing): 1-byte type, 1-byte
 * length, value. Values over 255 bytes are split into consecutive fragments of
 * the same type; items of the same type that are *not* fragments must be
 * separated by a zero-length type-0 delimiter.
 */

/** A scalar TLV value; numbers are a single uint8 (use the helpers for wider ints). */
export type TlvScalar = Buffer | Uint8Array | number | string | boolean;
/** An array value is encoded as a list: one item per element, delimiter-separated. */
export type TlvValue = TlvScalar | readonly TlvScalar[];
export type TlvPair = readonly [type: number, value: TlvValue];

export interface TlvEntry {
  type: number;
  value: Buffer;
}

export const TLV_DELIMITER = 0x00;

function scalarToBuffer(value: TlvScalar): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 255) {
      throw new RangeError(`TLV number ${value} is not a uint8; use u16/u32/f32 helpers`);
    }
    return Buffer.from([value]);
  }
  if (typeof value === 'boolean') return Buffer.from([value ? 1 : 0]);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

function encodeOne(type: number, value: Buffer, out: Buffer[]): void {
  if (value.length === 0) {
    out.push(Buffer.from([type, 0]));
    return;
  }
  for (let offset = 0; offset < value.length; offset += 255) {
    const chunk = value.subarray(offset, Math.min(offset + 255, value.length));
    out.push(Buffer.from([type, chunk.length]), chunk);
  }
}

/**
 * Encode pairs in order. Array values become lists. Two consecutive pairs with
 * the same (non-zero) type get a delimiter automatically so they can't be
 * mistaken for fragments of one value.
 */
export function encodeTlv(pairs: readonly TlvPair[]): Buffer {
  const out: Buffer[] = [];
  let lastType = -1;
  for (const [type, value] of pairs) {
    if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`bad TLV type ${type}`);
    const items: readonly TlvScalar[] = Array.isArray(value) ? value : [value as TlvScalar];
    if (items.length === 0) {
      encodeOne(type, Buffer.alloc(0), out);
      lastType = type;
      continue;
    }
    for (const item of items) {
      if (type !== TLV_DELIMITER && type === lastType) out.push(Buffer.from([TLV_DELIMITER, 0]));
      encodeOne(type, scalarToBuffer(item), out);
      lastType = type;
    }
  }
  return Buffer.concat(out);
}

/**
 * Decode into ordered entries. Fragments (a 255-byte chunk followed directly by
 * the same type) are merged; delimiters are dropped, so list items simply
 * appear as repeated entries.
 */
export function decodeTlv(buf: Buffer): TlvEntry[] {
  const entries: TlvEntry[] = [];
  let pos = 0;
  let continuing: { entry: TlvEntry; parts: Buffer[] } | undefined;
  while (pos < buf.length) {
    if (pos + 2 > buf.length) throw new Error(`TLV truncated header at offset ${pos}`);
    const type = buf[pos] as number;
    const len = buf[pos + 1] as number;
    pos += 2;
    if (pos + len > buf.length) throw new Error(`TLV type ${type} length ${len} exceeds buffer at offset ${pos - 2}`);
    const value = buf.subarray(pos, pos + len);
    pos += len;
    if (continuing && continuing.entry.type === type) {
      continuing.parts.push(value);
      continuing.entry.value = Buffer.concat(continuing.parts);
      if (len < 255) continuing = undefined;
      continue;
    }
    continuing = undefined;
    if (type === TLV_DELIMITER && len === 0) continue;
    const entry: TlvEntry = { type, value: Buffer.from(value) };
    entries.push(entry);
    if (len === 255) continuing = { entry, parts: [entry.value] };
  }
  return entries;
}

/** Read-side convenience over decodeTlv with typed little-endian accessors. */
export class Tlv {
  readonly entries: TlvEntry[];

  constructor(buf: Buffer | string) {
    this.entries = decodeTlv(typeof buf === 'string' ? Buffer.from(buf, 'base64') : buf);
  }

  has(type: number): boolean {
    return this.entries.some((e) => e.type === type);
  }

  /** All values of a type, in order (lists). */
  all(type: number): Buffer[] {
    return this.entries.filter((e) => e.type === type).map((e) => e.value);
  }

  get(type: number): Buffer {
    const found = this.entries.find((e) => e.type === type);
    if (!found) throw new Error(`TLV type ${type} missing (have ${this.entries.map((e) => e.type).join(',')})`);
    return found.value;
  }

  opt(type: number): Buffer | undefined {
    return this.entries.find((e) => e.type === type)?.value;
  }

  tlv(type: number): Tlv {
    return new Tlv(this.get(type));
  }

  u8(type: number): number {
    return this.get(type).readUInt8(0);
  }

  uint(type: number): number {
    return readUIntLE(this.get(type));
  }

  f32(type: number): number {
    return this.get(type).readFloatLE(0);
  }

  str(type: number): string {
    return this.get(type).toString('utf8');
  }
}

/** HAP integers are little-endian with whatever width the sender chose. */
export function readUIntLE(buf: Buffer): number {
  if (buf.length === 0) throw new Error('empty TLV integer');
  if (buf.length > 6) throw new Error(`TLV integer of ${buf.length} bytes is too wide`);
  return buf.readUIntLE(0, buf.length);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n, 0);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export function f32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(n, 0);
  return b;
}

/** 36-char UUID string to the 16 raw bytes HAP uses for session ids. */
export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`bad uuid ${uuid}`);
  return Buffer.from(hex, 'hex');
}

export function bytesToUuid(buf: Buffer): string {
  if (buf.length !== 16) throw new Error(`uuid needs 16 bytes, got ${buf.length}`);
  const h = buf.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
