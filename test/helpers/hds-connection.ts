/**
 * The controller end of one HomeKit Data Stream TCP connection: keys from the pair-verify secret,
 * ChaCha20-Poly1305 frames, header + message codec, requests with ids, and events.
 *
 * Frame: type 0x01, 24-bit big-endian length, ciphertext, 16-byte tag; the 4 header bytes are the
 * AAD and the nonce is 4 zero bytes + a 64-bit little-endian counter per direction.
 * Payload: header length (1 byte), header dict, message dict.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { Socket } from 'node:net';
import { decodeHds, encodeHds, HdsInt64, type HdsEncodable, type HdsValue } from './hds-codec.js';

export type HdsDict = { [key: string]: HdsValue };

export interface HdsMessage {
  header: HdsDict;
  message: HdsDict;
  /** performance.now() when the frame was decrypted. */
  at: number;
}

export function hdsKeys(sharedSecret: Buffer, controllerSalt: Buffer, accessorySalt: Buffer): { read: Buffer; write: Buffer } {
  const salt = Buffer.concat([controllerSalt, accessorySalt]);
  const key = (info: string): Buffer => Buffer.from(hkdfSync('sha512', sharedSecret, salt, info, 32));
  return { read: key('HDS-Read-Encryption-Key'), write: key('HDS-Write-Encryption-Key') };
}

function nonce(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

function isDict(v: HdsValue | undefined): v is HdsDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export class HdsConnection {
  readonly received: HdsMessage[] = [];
  private readCounter = 0n;
  private writeCounter = 0n;
  private buffer = Buffer.alloc(0);
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (m: HdsMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<(m: HdsMessage) => void>();
  closedAt: number | undefined;
  error: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket, private readonly keys: { read: Buffer; write: Buffer }) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedAt = performance.now();
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error('HDS connection closed'));
        }
        this.pending.clear();
        resolve();
      });
    });
    socket.on('error', (error) => { this.error = error; });
  }

  static async connect(port: number, keys: { read: Buffer; write: Buffer }, host = '127.0.0.1', timeoutMs = 5000): Promise<HdsConnection> {
    const socket = new Socket();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`HDS connect to ${host}:${port} timed out`)); }, timeoutMs);
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
      socket.connect(port, host, () => { clearTimeout(timer); resolve(); });
    });
    return new HdsConnection(socket, keys);
  }

  get isOpen(): boolean {
    return this.closedAt === undefined;
  }

  onMessage(listener: (m: HdsMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Send a request; resolves with the matching response (any status). */
  request(protocol: string, topic: string, message: { [key: string]: HdsEncodable }, timeoutMs = 5000): Promise<HdsMessage> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`HDS ${protocol}.${topic} (id ${id}) got no response in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send({ protocol, request: topic, id: new HdsInt64(id) }, message);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  event(protocol: string, topic: string, message: { [key: string]: HdsEncodable }): void {
    this.send({ protocol, event: topic }, message);
  }

  send(header: { [key: string]: HdsEncodable }, message: { [key: string]: HdsEncodable }): void {
    const h = encodeHds(header);
    const plain = Buffer.concat([Buffer.from([h.length]), h, encodeHds(message)]);
    const frameHeader = Buffer.from([0x01, (plain.length >> 16) & 0xff, (plain.length >> 8) & 0xff, plain.length & 0xff]);
    const cipher = createCipheriv('chacha20-poly1305', this.keys.write, nonce(this.writeCounter++), { authTagLength: 16 });
    cipher.setAAD(frameHeader, { plaintextLength: plain.length });
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
    this.socket.write(Buffer.concat([frameHeader, encrypted, cipher.getAuthTag()]));
  }

  /** Close our end (FIN) or reset it. */
  async close(mode: 'fin' | 'rst' = 'fin'): Promise<void> {
    if (mode === 'rst') this.socket.resetAndDestroy();
    else this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await this.closed;
    clearTimeout(timer);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const length = (this.buffer.readUInt8(1) << 16) | this.buffer.readUInt16BE(2);
      if (this.buffer.length < 4 + length + 16) return;
      const frameHeader = this.buffer.subarray(0, 4);
      const body = this.buffer.subarray(4, 4 + length);
      const tag = this.buffer.subarray(4 + length, 4 + length + 16);
      this.buffer = this.buffer.subarray(4 + length + 16);
      const decipher = createDecipheriv('chacha20-poly1305', this.keys.read, nonce(this.readCounter++), { authTagLength: 16 });
      decipher.setAAD(frameHeader, { plaintextLength: length });
      decipher.setAuthTag(tag);
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        this.error = new Error('HDS frame failed authentication');
        this.socket.destroy();
        return;
      }
      this.onPayload(plain);
    }
  }

  private onPayload(plain: Buffer): void {
    const headerLength = plain.readUInt8(0);
    const header = decodeHds(plain.subarray(1, 1 + headerLength)).value;
    const message = plain.length > 1 + headerLength ? decodeHds(plain.subarray(1 + headerLength)).value : {};
    if (!isDict(header) || !isDict(message)) throw new Error('HDS payload is not two dictionaries');
    const m: HdsMessage = { header, message, at: performance.now() };
    this.received.push(m);
    if (typeof header.response === 'string' && typeof header.id === 'number') {
      const p = this.pending.get(header.id);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(header.id);
        p.resolve(m);
      }
    }
    for (const l of this.listeners) l(m);
  }
}
