/**
 * Ground truth via the real decoders: ffprobe decodes what we depacketized
 * (H.264 Annex-B, Opus in a hand-built Ogg) or what we got as a snapshot.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DecodeResult {
  frames: number;
  width: number;
  height: number;
  /** ffprobe's stderr at -v error (decode errors, if any). */
  errors: string;
}

export interface ImageInfo {
  width: number;
  height: number;
  codec: string;
}

export interface AudioDecodeResult {
  codec: string;
  frames: number;
  sampleRate: number;
  channels: number;
  errors: string;
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

async function withTempFile<T>(name: string, data: Buffer, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'hbcctv-decode-'));
  try {
    const path = join(dir, name);
    await writeFile(path, data);
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ProbeStream {
  codec_name?: string;
  width?: number;
  height?: number;
  nb_read_frames?: string;
  sample_rate?: string;
  channels?: number;
}

function firstStream(json: string): ProbeStream {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || !('streams' in parsed) || !Array.isArray(parsed.streams)) {
    throw new Error(`unexpected ffprobe output: ${json}`);
  }
  const s: unknown = parsed.streams[0];
  if (typeof s !== 'object' || s === null) throw new Error(`ffprobe found no stream: ${json}`);
  return s;
}

/** Decode every frame of an H.264 elementary stream; frames = 0 if nothing decodable. */
export async function decodeH264(annexB: Buffer, timeoutMs = 30_000): Promise<DecodeResult> {
  if (annexB.length === 0) return { frames: 0, width: 0, height: 0, errors: 'empty input' };
  return withTempFile('stream.h264', annexB, async (path) => {
    const { stdout, stderr } = await run(
      'ffprobe',
      ['-v', 'error', '-f', 'h264', '-count_frames', '-select_streams', 'v:0',
        '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', path],
      timeoutMs,
    );
    const s = firstStream(stdout);
    return {
      frames: Number(s.nb_read_frames ?? 0) || 0,
      width: s.width ?? 0,
      height: s.height ?? 0,
      errors: stderr.trim(),
    };
  });
}

/** Probe a snapshot. Rejects if the bytes aren't an image ffprobe can read. */
export async function jpegInfo(buf: Buffer, timeoutMs = 15_000): Promise<ImageInfo> {
  return withTempFile('snapshot.jpg', buf, async (path) => {
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path],
      timeoutMs,
    );
    const s = firstStream(stdout);
    return { width: s.width ?? 0, height: s.height ?? 0, codec: s.codec_name ?? 'unknown' };
  });
}

/** SOI + EOI markers: cheap sanity check before calling ffprobe. */
export function looksLikeJpeg(buf: Buffer): boolean {
  return buf.length > 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff && buf[buf.length - 1] === 0xd9;
}

/** Count RTP payloads per payload type (e.g. Opus 110 vs comfort noise 13). */
export function countByPayloadType(packets: ReadonlyArray<{ payloadType: number }>): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of packets) m.set(p.payloadType, (m.get(p.payloadType) ?? 0) + 1);
  return m;
}

// ---- Opus → Ogg (RFC 7845), so ffprobe can decode raw RTP payloads ----

/** Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 §3.1). */
export function opusPacketSamples(pkt: Buffer): number {
  if (pkt.length < 1) return 0;
  const toc = pkt[0] as number;
  const config = toc >> 3;
  let frameMs: number;
  if (config < 12) frameMs = [10, 20, 40, 60][config % 4] as number;
  else if (config < 16) frameMs = [10, 20][config % 2] as number;
  else frameMs = [2.5, 5, 10, 20][config % 4] as number;
  const code = toc & 3;
  const count = code === 0 ? 1 : code < 3 ? 2 : pkt.length > 1 ? (pkt[1] as number) & 0x3f : 0;
  return Math.round(frameMs * 48) * count;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(buf: Buffer): number {
  let crc = 0;
  for (const b of buf) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ b) & 0xff] as number)) >>> 0;
  return crc >>> 0;
}

function oggPage(packet: Buffer, opts: { headerType: number; granule: bigint; serial: number; seq: number }): Buffer {
  const lacing: number[] = [];
  let left = packet.length;
  while (left >= 255) {
    lacing.push(255);
    left -= 255;
  }
  lacing.push(left);
  if (lacing.length > 255) throw new Error('Opus packet too large for one Ogg page');
  const head = Buffer.alloc(27 + lacing.length);
  head.write('OggS', 0, 'latin1');
  head[4] = 0;
  head[5] = opts.headerType;
  head.writeBigInt64LE(opts.granule, 6);
  head.writeUInt32LE(opts.serial, 14);
  head.writeUInt32LE(opts.seq, 18);
  head[26] = lacing.length;
  lacing.forEach((l, i) => (head[27 + i] = l));
  const page = Buffer.concat([head, packet]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

export function opusToOgg(payloads: readonly Buffer[], channels = 1, inputSampleRate = 16000): Buffer {
  const serial = 0x48424343;
  const opusHead = Buffer.alloc(19);
  opusHead.write('OpusHead', 0, 'latin1');
  opusHead[8] = 1;
  opusHead[9] = channels;
  opusHead.writeUInt16LE(0, 10);
  opusHead.writeUInt32LE(inputSampleRate, 12);
  opusHead.writeInt16LE(0, 16);
  opusHead[18] = 0;
  const vendor = Buffer.from('homebridge-cctv-test');
  const opusTags = Buffer.alloc(8 + 4 + vendor.length + 4);
  opusTags.write('OpusTags', 0, 'latin1');
  opusTags.writeUInt32LE(vendor.length, 8);
  vendor.copy(opusTags, 12);
  opusTags.writeUInt32LE(0, 12 + vendor.length);
  const pages = [
    oggPage(opusHead, { headerType: 0x02, granule: 0n, serial, seq: 0 }),
    oggPage(opusTags, { headerType: 0, granule: 0n, serial, seq: 1 }),
  ];
  let granule = 0n;
  payloads.forEach((p, i) => {
    granule += BigInt(opusPacketSamples(p));
    pages.push(oggPage(p, { headerType: i === payloads.length - 1 ? 0x04 : 0, granule, serial, seq: i + 2 }));
  });
  return Buffer.concat(pages);
}

/** Decode Opus RTP payloads (one Opus packet each) with ffprobe. */
export async function decodeOpus(payloads: readonly Buffer[], channels = 1, timeoutMs = 30_000): Promise<AudioDecodeResult> {
  if (payloads.length === 0) return { codec: 'none', frames: 0, sampleRate: 0, channels: 0, errors: 'no packets' };
  return withTempFile('audio.ogg', opusToOgg(payloads, channels), async (path) => {
    const { stdout, stderr } = await run(
      'ffprobe',
      ['-v', 'error', '-count_frames', '-select_streams', 'a:0',
        '-show_entries', 'stream=codec_name,sample_rate,channels,nb_read_frames', '-of', 'json', path],
      timeoutMs,
    );
    const s = firstStream(stdout);
    return {
      codec: s.codec_name ?? 'unknown',
      frames: Number(s.nb_read_frames ?? 0) || 0,
      sampleRate: Number(s.sample_rate ?? 0) || 0,
      channels: s.channels ?? 0,
      errors: stderr.trim(),
    };
  });
}
