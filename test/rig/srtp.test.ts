/**
 * The test rig's own plumbing: TLV8, SRTP/SRTCP, RTP/H.264 depacketizing and
 * decoding — checked against RFC vectors, HAP-NodeJS's TLV code and real
 * FFmpeg as the SRTP sender.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { encode as hapEncode, decodeWithLists as hapDecodeWithLists } from '@homebridge/hap-nodejs';
import { Tlv, decodeTlv, encodeTlv, f32, u16, u32, uuidToBytes, bytesToUuid } from '../helpers/tlv8.js';
import type { TlvPair } from '../helpers/tlv8.js';
import { SrtpContext, deriveSessionKey, isRtcp, keysToBase64, makeKeys } from '../helpers/srtp.js';
import { H264Depacketizer, buildReceiverReport, buildRtp, parseRtcpCompound, parseRtp } from '../helpers/rtp-h264.js';
import { countByPayloadType, decodeH264, decodeOpus, opusPacketSamples } from '../helpers/h264-decode.js';

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

// ------------------------------------------------------------------ TLV8

describe('tlv8', () => {
  const long300 = Buffer.alloc(300, 0xab);
  const exact255 = Buffer.alloc(255, 0x11);
  const long510 = Buffer.from(Array.from({ length: 510 }, (_, i) => i & 0xff));

  const cases: Array<{ name: string; pairs: TlvPair[]; expect: Array<[number, string]> }> = [
    { name: 'single byte', pairs: [[1, 5]], expect: [[1, '05']] },
    { name: 'string + buffer', pairs: [[2, 'ab'], [3, Buffer.from([1, 2, 3])]], expect: [[2, '6162'], [3, '010203']] },
    { name: 'boolean + empty', pairs: [[4, true], [5, Buffer.alloc(0)]], expect: [[4, '01'], [5, '']] },
    { name: '300 bytes fragments', pairs: [[6, long300], [7, 1]], expect: [[6, long300.toString('hex')], [7, '01']] },
    { name: 'exactly 255 bytes', pairs: [[6, exact255], [7, 2]], expect: [[6, exact255.toString('hex')], [7, '02']] },
    { name: '510 bytes (two full fragments)', pairs: [[9, long510]], expect: [[9, long510.toString('hex')]] },
    { name: 'list value', pairs: [[1, [0, 1, 2]]], expect: [[1, '00'], [1, '01'], [1, '02']] },
    { name: 'repeated type auto-delimited', pairs: [[3, 'x'], [3, 'y']], expect: [[3, '78'], [3, '79']] },
    { name: 'list of 255-byte items stays separate', pairs: [[8, [exact255, exact255]]], expect: [[8, exact255.toString('hex')], [8, exact255.toString('hex')]] },
    { name: 'wide ints', pairs: [[1, u16(0x1234)], [2, u32(0xdeadbeef)], [3, f32(0.5)]], expect: [[1, '3412'], [2, 'efbeadde'], [3, '0000003f']] },
  ];

  for (const c of cases) {
    it(`round-trips: ${c.name}`, () => {
      const decoded = decodeTlv(encodeTlv(c.pairs));
      assert.deepEqual(decoded.map((e) => [e.type, e.value.toString('hex')]), c.expect);
    });
  }

  it('matches HAP-NodeJS encoding for fragments and lists', () => {
    assert.deepEqual(encodeTlv([[6, long300]]), hapEncode(6, long300));
    assert.deepEqual(encodeTlv([[1, [0, 1, 2]], [2, 7]]), hapEncode(1, [0, 1, 2], 2, 7));
    const hap = hapDecodeWithLists(encodeTlv([[1, [Buffer.from('a'), Buffer.from('b')]], [2, long300]]));
    assert.deepEqual(hap[1], [Buffer.from('a'), Buffer.from('b')]);
    assert.deepEqual(hap[2], long300);
  });

  it('decodes what HAP-NodeJS encodes (nested video config)', () => {
    const attrs = (w: number, h: number, fps: number): Buffer => hapEncode(1, u16(w), 2, u16(h), 3, fps);
    const cfg = hapEncode(1, 0, 2, hapEncode(1, [0, 1, 2], 2, [0, 1, 2], 3, 0), 3, [attrs(1920, 1080, 30), attrs(320, 240, 15)]);
    const t = new Tlv(cfg);
    assert.equal(t.u8(1), 0);
    assert.deepEqual(t.tlv(2).all(1).map((b) => b[0]), [0, 1, 2]);
    assert.deepEqual(t.all(3).map((a) => [new Tlv(a).uint(1), new Tlv(a).uint(2), new Tlv(a).u8(3)]), [[1920, 1080, 30], [320, 240, 15]]);
  });

  it('rejects truncated input and bad values', () => {
    assert.throws(() => decodeTlv(Buffer.from([1])), /truncated/);
    assert.throws(() => decodeTlv(Buffer.from([1, 5, 0])), /exceeds/);
    assert.throws(() => encodeTlv([[1, 256]]), /uint8/);
    assert.throws(() => new Tlv(Buffer.from([1, 1, 0])).get(2), /missing/);
  });

  it('uuid bytes round-trip', () => {
    const id = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
    assert.equal(bytesToUuid(uuidToBytes(id)), id);
  });
});

// ------------------------------------------------------------------ SRTP

describe('srtp', () => {
  it('derives session keys per RFC 3711 B.3', () => {
    const master = { key: Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex'), salt: Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex') };
    assert.equal(deriveSessionKey(master, 0, 16).toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(deriveSessionKey(master, 2, 14).toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(deriveSessionKey(master, 1, 20).toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('makeKeys sizes and base64 params', () => {
    const k = makeKeys();
    assert.equal(k.key.length, 16);
    assert.equal(k.salt.length, 14);
    assert.equal(Buffer.from(keysToBase64(k), 'base64').length, 30);
  });

  it('round-trips RTP across a sequence wrap and tracks ROC', () => {
    const keys = makeKeys();
    const tx = new SrtpContext(keys);
    const rx = new SrtpContext(keys);
    for (let i = 0; i < 40; i++) {
      const seq = (65520 + i) & 0xffff;
      const payload = Buffer.from(`payload-${i}`);
      const plain = buildRtp({ payloadType: 99, sequence: seq, timestamp: i * 3000, ssrc: 0x1234, payload, csrcs: i % 2 ? [7] : [], extension: i % 3 ? undefined : { profile: 0xbede, data: Buffer.alloc(4, 1) } });
      const prot = tx.protectRtp(plain);
      assert.notDeepEqual(prot.subarray(prot.length - 10 - payload.length, prot.length - 10), payload);
      const back = rx.unprotectRtp(prot);
      assert.ok(back, `packet ${i} seq ${seq} failed`);
      assert.deepEqual(back, plain);
    }
    assert.equal(rx.rocOf(0x1234), 1);
    assert.equal(rx.authFailures, 0);
  });

  it('rejects tampered packets, wrong keys and short packets (counted)', () => {
    const keys = makeKeys();
    const tx = new SrtpContext(keys);
    const rx = new SrtpContext(keys);
    const prot = tx.protectRtp(buildRtp({ payloadType: 99, sequence: 1, timestamp: 0, ssrc: 1, payload: Buffer.alloc(50, 9) }));
    for (const pos of [1, 20, prot.length - 1]) {
      const bad = Buffer.from(prot);
      bad[pos] = (bad[pos] as number) ^ 0x01;
      assert.equal(rx.unprotectRtp(bad), null);
    }
    assert.equal(new SrtpContext(makeKeys()).unprotectRtp(prot), null);
    assert.equal(rx.unprotectRtp(Buffer.alloc(8)), null);
    assert.equal(rx.stats.rtpAuthFailures, 4);
    assert.ok(rx.unprotectRtp(prot));
  });

  it('round-trips SRTCP with E flag and index', () => {
    const keys = makeKeys();
    const tx = new SrtpContext(keys);
    const rx = new SrtpContext(keys);
    const rr = buildReceiverReport(0xcafe, [{ ssrc: 0x1234, fractionLost: 0, cumulativeLost: 0, highestSeq: 100, jitter: 3, lsr: 0, dlsr: 0 }], 'test');
    for (let i = 0; i < 3; i++) {
      const prot = tx.protectRtcp(rr);
      assert.ok(isRtcp(prot));
      assert.equal(prot.readUInt32BE(prot.length - 14), (0x80000000 | i) >>> 0);
      assert.notDeepEqual(prot.subarray(8, rr.length), rr.subarray(8));
      assert.deepEqual(rx.unprotectRtcp(prot), rr);
    }
    const bad = tx.protectRtcp(rr);
    bad[10] = (bad[10] as number) ^ 0xff;
    assert.equal(rx.unprotectRtcp(bad), null);
    assert.equal(rx.stats.rtcpAuthFailures, 1);
    const parsed = parseRtcpCompound(rr);
    assert.deepEqual(parsed.map((p) => p.packetType), [201, 202]);
    assert.equal(parsed[0]?.count, 1);
  });
});

// ------------------------------------------------------------------ RTP / H.264

describe('rtp + h264 depacketizer', () => {
  it('parses CSRC, extension and padding', () => {
    const raw = buildRtp({ payloadType: 110, sequence: 7, timestamp: 99, ssrc: 5, marker: true, payload: Buffer.from('hello'), csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.alloc(8) }, padding: 3 });
    const p = parseRtp(raw);
    assert.ok(p);
    assert.deepEqual([p.marker, p.payloadType, p.sequence, p.timestamp, p.ssrc, p.csrcs, p.paddingLength], [true, 110, 7, 99, 5, [1, 2], 3]);
    assert.equal(p.extension?.data.length, 8);
    assert.equal(p.payload.toString(), 'hello');
    assert.equal(parseRtp(Buffer.alloc(5)), null);
  });

  it('reassembles single NAL, STAP-A and FU-A into Annex-B', () => {
    const d = new H264Depacketizer();
    const sps = Buffer.from([0x67, 1, 2, 3]);
    const pps = Buffer.from([0x68, 4, 5]);
    const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 0x42)]);
    const stap = Buffer.concat([Buffer.from([0x78]), u16be(sps.length), sps, u16be(pps.length), pps]);
    let seq = 100;
    const pkt = (payload: Buffer, ts: number): ReturnType<typeof parseRtp> => parseRtp(buildRtp({ payloadType: 99, sequence: seq++, timestamp: ts, ssrc: 1, payload }));
    d.push(must(pkt(stap, 0)), 1);
    const body = idr.subarray(1);
    for (let off = 0; off < body.length; off += 1000) {
      const start = off === 0;
      const end = off + 1000 >= body.length;
      const fuHeader = (start ? 0x80 : 0) | (end ? 0x40 : 0) | 5;
      d.push(must(pkt(Buffer.concat([Buffer.from([0x7c, fuHeader]), body.subarray(off, off + 1000)]), 0)), 2);
    }
    d.push(must(pkt(Buffer.from([0x41, 9, 9]), 3000)), 3);
    const start = Buffer.from([0, 0, 0, 1]);
    assert.deepEqual(d.annexB(), Buffer.concat([start, sps, start, pps, start, idr, start, Buffer.from([0x41, 9, 9])]));
    assert.ok(d.sawSps && d.sawPps && d.sawIdr);
    assert.equal(d.firstIdrArrival, 2);
    assert.equal(d.stats.accessUnits, 2);
    assert.equal(d.stats.gaps, 0);
  });

  it('drops an FU-A whose middle was lost', () => {
    const d = new H264Depacketizer();
    d.push(must(parseRtp(buildRtp({ payloadType: 99, sequence: 1, timestamp: 0, ssrc: 1, payload: Buffer.from([0x7c, 0x85, 1]) }))), 0);
    d.push(must(parseRtp(buildRtp({ payloadType: 99, sequence: 3, timestamp: 0, ssrc: 1, payload: Buffer.from([0x7c, 0x45, 2]) }))), 0);
    assert.equal(d.stats.nals, 0);
    assert.equal(d.stats.gaps, 1);
    assert.ok(d.stats.droppedFragments >= 1);
  });

  it('opus TOC durations', () => {
    assert.equal(opusPacketSamples(Buffer.from([0x78])), 960); // config 15 hybrid 20ms, 1 frame
    assert.equal(opusPacketSamples(Buffer.from([0xf8 | 1])), 1920); // CELT 20ms, 2 frames
    assert.equal(opusPacketSamples(Buffer.from([0x1b, 0x03])), 3 * 60 * 48); // config 3 SILK 60ms, code 3 ×3
  });
});

// ------------------------------------------------------------------ real FFmpeg as sender

interface Capture {
  rtp: Buffer[];
  rtcp: Buffer[];
}

async function captureFfmpeg(args: (port: number) => string[], timeoutMs: number): Promise<Capture> {
  const sock: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const cap: Capture = { rtp: [], rtcp: [] };
  sock.on('message', (m) => (isRtcp(m) ? cap.rtcp : cap.rtp).push(m));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  const child = spawn('ffmpeg', args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`ffmpeg did not finish in ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      child.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(code, 0, `ffmpeg failed: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200)); // last datagrams
  } finally {
    children.delete(child);
    sock.close();
  }
  return cap;
}

describe('against FFmpeg SRTP sender', () => {
  it('authenticates every packet, detects tampering, decodes 320x240 H.264', async () => {
    const keys = makeKeys();
    const cap = await captureFfmpeg(
      (port) => [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
        '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '3',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '15',
        '-f', 'rtp', '-payload_type', '99', '-ssrc', '1234',
        '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', keysToBase64(keys),
        `srtp://127.0.0.1:${port}?rtcpport=${port}&localaddr=127.0.0.1&pkt_size=1316`,
      ],
      20_000,
    );
    assert.ok(cap.rtp.length > 20, `only ${cap.rtp.length} RTP packets`);
    const ctx = new SrtpContext(keys);
    const depack = new H264Depacketizer();
    for (const [i, m] of cap.rtp.entries()) {
      const plain = ctx.unprotectRtp(m);
      assert.ok(plain, `packet ${i} failed auth`);
      const p = must(parseRtp(plain));
      assert.equal(p.payloadType, 99);
      assert.equal(p.ssrc, 1234);
      depack.push(p, i);
    }
    assert.equal(ctx.stats.rtpAuthFailures, 0);
    assert.equal(depack.stats.gaps, 0);
    assert.ok(depack.sawSps && depack.sawPps && depack.sawIdr);

    // FFmpeg's sender reports are SRTCP too: validates our RTCP key derivation + decrypt.
    assert.ok(cap.rtcp.length > 0, 'no SRTCP from FFmpeg');
    for (const r of cap.rtcp) {
      const plain = ctx.unprotectRtcp(r);
      assert.ok(plain, 'SRTCP failed auth');
      assert.equal(parseRtcpCompound(plain)[0]?.packetType, 200);
    }

    const tampered = Buffer.from(cap.rtp[5] as Buffer);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 0x80;
    assert.equal(new SrtpContext(keys).unprotectRtp(tampered), null);
    assert.equal(new SrtpContext(makeKeys()).unprotectRtp(cap.rtp[0] as Buffer), null);

    const dec = await decodeH264(depack.annexB());
    assert.equal(dec.width, 320);
    assert.equal(dec.height, 240);
    assert.ok(dec.frames >= 44 && dec.frames <= 46, `decoded ${dec.frames} frames`);
  });

  it('decodes Opus RTP payloads', async () => {
    const keys = makeKeys();
    const cap = await captureFfmpeg(
      (port) => [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=24000', '-t', '1',
        '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20', '-b:a', '24k', '-ac', '1',
        '-f', 'rtp', '-payload_type', '110', '-ssrc', '99',
        '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', keysToBase64(keys),
        `srtp://127.0.0.1:${port}?rtcpport=${port}&localaddr=127.0.0.1&pkt_size=188`,
      ],
      15_000,
    );
    const ctx = new SrtpContext(keys);
    const pkts = cap.rtp.map((m) => must(parseRtp(must(ctx.unprotectRtp(m)))));
    assert.equal(countByPayloadType(pkts).get(110), pkts.length);
    const res = await decodeOpus(pkts.map((p) => p.payload));
    assert.equal(res.codec, 'opus');
    assert.ok(Math.abs(res.frames - 50) <= 2, `decoded ${res.frames} opus frames from ${pkts.length} packets`);
    assert.equal(res.errors, '');
  });
});

function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function must<T>(v: T | null | undefined): T {
  assert.ok(v !== null && v !== undefined);
  return v;
}
