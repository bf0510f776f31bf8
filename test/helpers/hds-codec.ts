/**
 * The HomeKit Data Stream message codec (Apple's opack as HAP-NodeJS speaks it), controller side.
 *
 * Decoding resolves back-references (tags 0xA0-0xCF) with the rule of HAP-NodeJS's *writer*: only
 * strings, wrapped numbers (tags 0x30-0x36), data, dates and UUIDs are remembered; booleans, null,
 * inline integers and containers are not. (HAP-NodeJS's own reader remembers everything, which is
 * wrong for what its writer emits, e.g. the hello response's `status` arrives as 0xA5.)
 * Encoding never emits back-references, and never writes 39 inline: HAP-NodeJS's reader stops at
 * tag 0x2E and would reject the 0x2F its writer produces for 39.
 */

export type HdsValue = null | boolean | number | string | Buffer | HdsValue[] | { [key: string]: HdsValue };

const TERMINATOR = Symbol('terminator');
type Decoded = HdsValue | typeof TERMINATOR;

export class HdsDecodeError extends Error {}

class Reader {
  index = 0;
  readonly tracked: HdsValue[] = [];
  constructor(readonly data: Buffer) {}

  take(n: number): Buffer {
    if (this.index + n > this.data.length) throw new HdsDecodeError(`needs ${n} bytes at ${this.index}, has ${this.data.length - this.index}`);
    const out = this.data.subarray(this.index, this.index + n);
    this.index += n;
    return out;
  }

  u8(): number {
    return this.take(1).readUInt8(0);
  }

  track<T extends HdsValue>(value: T): T {
    this.tracked.push(value);
    return value;
  }
}

function lengthOf(r: Reader, bytes: 1 | 2 | 4 | 8): number {
  const b = r.take(bytes);
  if (bytes === 1) return b.readUInt8(0);
  if (bytes === 2) return b.readUInt16LE(0);
  if (bytes === 4) return b.readUInt32LE(0);
  return Number(b.readBigUInt64LE(0));
}

function readUntilTerminator(r: Reader): Buffer {
  const end = r.data.indexOf(0x03, r.index);
  if (end < 0) throw new HdsDecodeError('unterminated value');
  const out = r.data.subarray(r.index, end);
  r.index = end + 1;
  return out;
}

function decodeOne(r: Reader): Decoded {
  const tag = r.u8();
  if (tag === 0x01) return true;
  if (tag === 0x02) return false;
  if (tag === 0x03) return TERMINATOR;
  if (tag === 0x04) return null;
  if (tag === 0x05) return r.track(r.take(16).toString('hex'));
  if (tag === 0x06) return r.track(r.take(8).readDoubleLE(0));
  if (tag === 0x07) return -1;
  if (tag >= 0x08 && tag <= 0x2f) return tag - 0x08;
  if (tag === 0x30) return r.track(r.take(1).readInt8(0));
  if (tag === 0x31) return r.track(r.take(2).readInt16LE(0));
  if (tag === 0x32) return r.track(r.take(4).readInt32LE(0));
  if (tag === 0x33) return r.track(Number(r.take(8).readBigInt64LE(0)));
  if (tag === 0x35) return r.track(r.take(4).readFloatLE(0));
  if (tag === 0x36) return r.track(r.take(8).readDoubleLE(0));
  if (tag >= 0x40 && tag <= 0x60) return r.track(r.take(tag - 0x40).toString('utf8'));
  if (tag >= 0x61 && tag <= 0x64) return r.track(r.take(lengthOf(r, ([1, 2, 4, 8] as const)[tag - 0x61] ?? 1)).toString('utf8'));
  if (tag === 0x6f) return r.track(readUntilTerminator(r).toString('utf8'));
  if (tag >= 0x70 && tag <= 0x90) return r.track(Buffer.from(r.take(tag - 0x70)));
  if (tag >= 0x91 && tag <= 0x94) return r.track(Buffer.from(r.take(lengthOf(r, ([1, 2, 4, 8] as const)[tag - 0x91] ?? 1))));
  if (tag === 0x9f) return r.track(Buffer.from(readUntilTerminator(r)));
  if (tag >= 0xa0 && tag <= 0xcf) {
    const index = tag - 0xa0;
    if (index >= r.tracked.length) throw new HdsDecodeError(`back-reference ${index} but only ${r.tracked.length} values seen`);
    return r.tracked[index] as HdsValue;
  }
  if (tag >= 0xd0 && tag <= 0xdf) {
    const out: HdsValue[] = [];
    const counted = tag < 0xdf;
    for (let i = 0; counted ? i < tag - 0xd0 : true; i++) {
      const v = decodeOne(r);
      if (v === TERMINATOR) {
        if (counted) throw new HdsDecodeError('terminator inside a counted array');
        break;
      }
      out.push(v);
    }
    return out;
  }
  if (tag >= 0xe0 && tag <= 0xef) {
    const out: { [key: string]: HdsValue } = {};
    const counted = tag < 0xef;
    for (let i = 0; counted ? i < tag - 0xe0 : true; i++) {
      const key = decodeOne(r);
      if (key === TERMINATOR) {
        if (counted) throw new HdsDecodeError('terminator inside a counted dictionary');
        break;
      }
      const value = decodeOne(r);
      if (value === TERMINATOR) throw new HdsDecodeError('dictionary key without a value');
      if (typeof key !== 'string' && typeof key !== 'number') throw new HdsDecodeError('dictionary key is not a string');
      out[String(key)] = value;
    }
    return out;
  }
  throw new HdsDecodeError(`unknown tag 0x${tag.toString(16)} at ${r.index - 1}`);
}

/** Decode one value; `rest` is whatever follows it (a header is followed by its message). */
export function decodeHds(data: Buffer): { value: HdsValue; length: number } {
  const r = new Reader(data);
  const value = decodeOne(r);
  if (value === TERMINATOR) throw new HdsDecodeError('a lone terminator');
  return { value, length: r.index };
}

/** A number the encoder must write as 64-bit (HAP-NodeJS's header ids and statuses are Int64). */
export class HdsInt64 {
  constructor(readonly value: number) {}
}

export type HdsEncodable = null | boolean | number | string | Buffer | HdsInt64 | HdsEncodable[] | { [key: string]: HdsEncodable | undefined };

function lengthTag(out: number[], base: number, length: number): void {
  if (length <= 0xff) out.push(base, length);
  else if (length <= 0xffff) out.push(base + 1, length & 0xff, length >> 8);
  else out.push(base + 2, ...u32le(length));
}

function u32le(n: number): number[] {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return [...b];
}

function int64le(n: number): number[] {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return [...b];
}

function encodeInto(out: number[], value: HdsEncodable): void {
  if (value === null) out.push(0x04);
  else if (value === true) out.push(0x01);
  else if (value === false) out.push(0x02);
  else if (value instanceof HdsInt64) out.push(0x33, ...int64le(value.value));
  else if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(value);
      out.push(0x36, ...b);
    } else if (value === -1) out.push(0x07);
    else if (value >= 0 && value <= 38) out.push(0x08 + value);
    else if (value >= -128 && value <= 127) out.push(0x30, value & 0xff);
    else if (value >= -32768 && value <= 32767) out.push(0x31, value & 0xff, (value >> 8) & 0xff);
    else if (value >= -2147483648 && value <= 2147483647) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value);
      out.push(0x32, ...b);
    } else out.push(0x33, ...int64le(value));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length <= 32) out.push(0x40 + bytes.length);
    else lengthTag(out, 0x61, bytes.length);
    out.push(...bytes);
  } else if (Buffer.isBuffer(value)) {
    if (value.length <= 32) out.push(0x70 + value.length);
    else lengthTag(out, 0x91, value.length);
    for (const byte of value) out.push(byte);
  } else if (Array.isArray(value)) {
    const counted = value.length <= 12;
    out.push(counted ? 0xd0 + value.length : 0xdf);
    for (const item of value) encodeInto(out, item);
    if (!counted) out.push(0x03);
  } else {
    const entries = Object.entries(value).filter((e): e is [string, HdsEncodable] => e[1] !== undefined);
    const counted = entries.length <= 14;
    out.push(counted ? 0xe0 + entries.length : 0xef);
    for (const [k, v] of entries) {
      encodeInto(out, k);
      encodeInto(out, v);
    }
    if (!counted) out.push(0x03);
  }
}

export function encodeHds(value: HdsEncodable): Buffer {
  const out: number[] = [];
  encodeInto(out, value);
  return Buffer.from(out);
}
