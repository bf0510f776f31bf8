/**
 * The Node copy path's pure parts: SRTP against RFC 3711's test vectors and against the test
 * controller's independent receiver, RFC 6184 packetization, and the per-viewer timeline.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { NAL_TYPE, nalType, packetizeAccessUnit, splitAnnexB, type ParameterSets } from '../../src/rtp/h264-packetizer.js';
import { BURST_TICKS_PER_FRAME, ptsDelta, RtpTimeline } from '../../src/rtp/rtp-timeline.js';
import { createHmac } from 'node:crypto';
import { AesCmKeystream, aesCm, deriveKey, deriveSessionKeys, packetIv, SrtpSession } from '../../src/rtp/srtp-session.js';
import { TsAccessUnitReader, type AccessUnit } from '../../src/rtp/ts-access-units.js';
import { VideoRtpSender } from '../../src/rtp/video-rtp-sender.js';
import { H264Depacketizer, parseRtp } from '../helpers/rtp-h264.js';
import { isRtcp, SrtpContext } from '../helpers/srtp.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('SRTP (RFC 3711)', () => {
  it('AES-CM keystream matches appendix B.2', () => {
    const keystream = aesCm(hex('2B7E151628AED2A6ABF7158809CF4F3C'), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000'), Buffer.alloc(48));
    assert.equal(keystream.toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0');
  });

  it('the per-packet keystream (one ECB cipher, counter blocks) matches appendix B.2, aligned or not', () => {
    const keystream = new AesCmKeystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'));
    const expected = 'E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0';
    for (const shift of [0, 1, 2, 3]) {
      // A buffer whose data starts `shift` bytes off a word boundary, 5 bytes in: the header it skips.
      const backing = Buffer.alloc(64 + shift);
      const data = backing.subarray(shift, shift + 5 + 48);
      keystream.apply(hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000'), data, 5);
      assert.equal(data.subarray(5).toString('hex').toUpperCase(), expected, `shift ${shift}`);
      assert.ok(data.subarray(0, 5).equals(Buffer.alloc(5)), 'bytes before `from` untouched');
    }
  });

  it('protectRtp equals the RFC 3711 construction done the slow way, for every payload length and past a ROC wrap', () => {
    const keyAndSalt = Buffer.from(Array.from({ length: 30 }, (_, i) => (i * 37 + 11) & 0xff));
    const keys = deriveSessionKeys(keyAndSalt.subarray(0, 16), keyAndSalt.subarray(16), false);
    const session = new SrtpSession(keyAndSalt);
    let roc = 0;
    let seq = 65_500;
    for (let length = 0; length < 120; length++) {
      const plain = Buffer.alloc(12 + length);
      plain[0] = 0x80;
      plain[1] = 99;
      plain.writeUInt16BE(seq, 2);
      plain.writeUInt32BE(0xdeadbeef, 8);
      for (let i = 12; i < plain.length; i++) plain[i] = (i * 7 + length) & 0xff;
      const index = roc * 0x10000 + seq;
      const body = aesCm(keys.cipher, packetIv(keys.salt, 0xdeadbeef, index), plain.subarray(12));
      const rocBytes = Buffer.alloc(4);
      rocBytes.writeUInt32BE(roc, 0);
      const head = Buffer.concat([plain.subarray(0, 12), body]);
      const tag = createHmac('sha1', keys.auth).update(head).update(rocBytes).digest().subarray(0, 10);
      assert.equal(session.protectRtp(plain).toString('hex'), Buffer.concat([head, tag]).toString('hex'), `length ${length}, seq ${seq}`);
      seq = (seq + 1) & 0xffff;
      if (seq === 0) roc++;
    }
    assert.equal(roc, 1);
  });

  it('key derivation matches appendix B.3', () => {
    const key = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
    const salt = hex('0EC675AD498AFEEBB6960B3AABE6');
    assert.equal(deriveKey(key, salt, 0, 16).toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(deriveKey(key, salt, 2, 14).toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(deriveKey(key, salt, 1, 20).toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('a sender wrapping past sequence 65535 stays decryptable: the rollover counter is counted', () => {
    const keyAndSalt = Buffer.alloc(30, 7);
    const sent: Buffer[] = [];
    const sender = new VideoRtpSender({ send: (d) => sent.push(d), keyAndSalt, ssrc: 0x1234, payloadType: 99, mtu: 1378, rtcpIntervalS: 0.5, firstSequence: 65_530 });
    const rx = new SrtpContext({ key: keyAndSalt.subarray(0, 16), salt: keyAndSalt.subarray(16) });
    const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(1000, 1)]);
    for (let i = 0; i < 12; i++) sender.send({ pts: i * 3000, nals: [i === 0 ? idr : Buffer.from([0x41, i])], keyframe: i === 0, h264: true });
    sender.close();
    const seqs = sent.map((d) => rx.unprotectRtp(d)).map((p) => (p ? parseRtp(p)?.sequence : undefined));
    assert.equal(rx.stats.rtpAuthFailures, 0);
    assert.deepEqual(seqs, [65_530, 65_531, 65_532, 65_533, 65_534, 65_535, 0, 1, 2, 3, 4, 5]);
    assert.equal(rx.rocOf(0x1234), 1);
  });

  it('SRTCP: what the controller protects authenticates once; a replay, a wrong key or a forgery is refused', () => {
    const keyAndSalt = Buffer.alloc(30, 3);
    const controller = new SrtpContext({ key: keyAndSalt.subarray(0, 16), salt: keyAndSalt.subarray(16) });
    const accessory = new SrtpSession(keyAndSalt);
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
    const first = controller.protectRtcp(rr);
    const second = controller.protectRtcp(rr);
    assert.equal(accessory.unprotectRtcp(second).ok, true);
    assert.equal(accessory.unprotectRtcp(first).ok, true, 'out of order inside the window is fine');
    assert.deepEqual(accessory.unprotectRtcp(first), { ok: false, why: 'replay' });
    const stranger = new SrtpContext({ key: Buffer.alloc(16, 1), salt: Buffer.alloc(14, 1) });
    assert.deepEqual(accessory.unprotectRtcp(stranger.protectRtcp(rr)), { ok: false, why: 'auth' });
    assert.deepEqual(accessory.unprotectRtcp(Buffer.alloc(30)), { ok: false, why: 'auth' });
    assert.deepEqual(accessory.unprotectRtcp(rr), { ok: false, why: 'short' });
  });

  it('sender reports are SRTCP the controller authenticates', async () => {
    const keyAndSalt = Buffer.alloc(30, 5);
    const sent: Buffer[] = [];
    const sender = new VideoRtpSender({ send: (d) => sent.push(d), keyAndSalt, ssrc: 77, payloadType: 99, mtu: 1378, rtcpIntervalS: 0.1 });
    sender.send({ pts: 0, nals: [Buffer.from([0x65, 1, 2])], keyframe: true, h264: true });
    await new Promise((resolve) => setTimeout(resolve, 250));
    sender.close();
    const rx = new SrtpContext({ key: keyAndSalt.subarray(0, 16), salt: keyAndSalt.subarray(16) });
    const reports = sent.filter(isRtcp).map((d) => rx.unprotectRtcp(d));
    assert.ok(reports.length >= 1);
    for (const r of reports) assert.equal(r?.[1], 200);
    assert.equal(rx.stats.rtcpAuthFailures, 0);
  });
});

describe('H.264 packetizer (RFC 6184)', () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 1, 2, 3]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);

  it('SPS+PPS go as one STAP-A before the IDR, big NALs as FU-A within the MTU, marker on the last', () => {
    const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(5000, 9)]);
    const params: ParameterSets = {};
    const out = packetizeAccessUnit([Buffer.from([0x09, 0xf0]), sps, pps, idr], 1200, params);
    assert.equal((out[0]?.payload[0] ?? 0) & 0x1f, NAL_TYPE.STAP_A);
    assert.ok(out.every((p) => p.payload.length <= 1200));
    assert.deepEqual(out.map((p) => p.marker), out.map((_, i) => i === out.length - 1));
    const fus = out.slice(1);
    assert.ok(fus.every((p) => ((p.payload[0] ?? 0) & 0x1f) === NAL_TYPE.FU_A && ((p.payload[1] ?? 0) & 0x1f) === 5));
    assert.equal((fus[0]?.payload[1] ?? 0) & 0x80, 0x80, 'start bit');
    assert.equal((fus.at(-1)?.payload[1] ?? 0) & 0x40, 0x40, 'end bit');
    // Round trip through the test controller's depacketizer gives back the NALs (AUD dropped).
    const depack = new H264Depacketizer();
    out.forEach((p, i) => depack.push({ version: 2, padding: false, marker: p.marker, payloadType: 99, sequence: i, timestamp: 0, ssrc: 1, csrcs: [], payload: p.payload, paddingLength: 0 }, 0));
    assert.deepEqual(splitAnnexB(depack.annexB()), [sps, pps, idr]);
  });

  it('an IDR that came without parameter sets gets the last ones seen; a P-frame gets none', () => {
    const params: ParameterSets = {};
    packetizeAccessUnit([sps, pps, Buffer.from([0x65, 1])], 1200, params);
    const idr = packetizeAccessUnit([Buffer.from([0x65, 2])], 1200, params);
    assert.equal(idr.length, 2);
    assert.equal((idr[0]?.payload[0] ?? 0) & 0x1f, NAL_TYPE.STAP_A);
    assert.equal(packetizeAccessUnit([Buffer.from([0x41, 2])], 1200, params).length, 1);
  });

  it('splits Annex-B with 3- and 4-byte start codes', () => {
    const data = Buffer.from([0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 0, 1, 0x65, 3]);
    assert.deepEqual(splitAnnexB(data), [Buffer.from([0x67, 1]), Buffer.from([0x68, 2]), Buffer.from([0x65, 3])]);
  });
});

describe('RTP timeline', () => {
  it('a cached GOP is squeezed to ~1 ms per frame, then live frames keep their spacing', () => {
    const t = new RtpTimeline(1000);
    // 30 cached frames at 15 fps (6000 ticks apart), sent at once at wall time 0.
    t.startBurst({ firstPts: 90_000, lastPts: 90_000 + 29 * 6000, frames: 30 }, 0);
    const burst = Array.from({ length: 30 }, (_, i) => t.map(90_000 + i * 6000, 0));
    assert.equal(burst[0], 1000);
    assert.equal(burst[29], 1000 + 29 * BURST_TICKS_PER_FRAME);
    const live = t.map(90_000 + 30 * 6000, 66);
    assert.equal(live, 1000 + 29 * BURST_TICKS_PER_FRAME + 6000);
    // Media time minus wall time over the burst + one live frame: 29 ms + 66.7 ms of media vs 66 ms wall.
    assert.ok(Math.abs((live - 1000) / 90 - 66) < 40);
  });

  it('a feed restart continues after the last timestamp by the wall time that passed', () => {
    const t = new RtpTimeline(0);
    t.map(0, 0);
    const before = t.map(3000, 33);
    t.restart();
    const after = t.map(5_000_000, 5033);
    assert.equal(after - before, 5000 * 90);
    assert.equal(t.map(5_003_000, 5066) - after, 3000);
  });

  it('PTS wrapping at 2^33 and RTP at 2^32 stay continuous', () => {
    assert.equal(ptsDelta(2 ** 33 - 1000, 2000), 3000);
    const t = new RtpTimeline(2 ** 32 - 100);
    t.map(2 ** 33 - 1000, 0);
    assert.equal(t.map(2000, 33), 2900);
  });
});

describe('MPEG-TS access units', () => {
  it('reads every frame of a real FFmpeg MPEG-TS with its PTS, keyframes marked', () => {
    const ts = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-frames:v', '30',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-bf', '0', '-f', 'mpegts', 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
    assert.equal(ts.status, 0, ts.stderr.toString());
    const units: AccessUnit[] = [];
    const reader = new TsAccessUnitReader((u) => units.push(u));
    // Odd chunk sizes, as a pipe delivers them.
    for (let i = 0; i < ts.stdout.length; i += 1000) reader.push(ts.stdout.subarray(i, i + 1000));
    reader.flush();
    assert.equal(units.length, 30);
    assert.deepEqual(units.map((u) => u.keyframe).map((k, i) => k === (i % 15 === 0)), Array<boolean>(30).fill(true));
    assert.ok(units.every((u) => u.h264));
    for (let i = 1; i < units.length; i++) assert.equal(ptsDelta(units[i - 1]?.pts ?? 0, units[i]?.pts ?? 0), 6000);
    assert.ok(units[0]?.nals.some((n) => ((n[0] ?? 0) & 0x1f) === NAL_TYPE.SPS));
  });

  it('hands each picture on at its PES\'s last packet (stuffing), not a frame later when the next PES starts', () => {
    const ts = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-frames:v', '30',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-bf', '0', '-f', 'mpegts', '-flush_packets', '1', 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
    assert.equal(ts.status, 0, ts.stderr.toString());
    const units: AccessUnit[] = [];
    const reader = new TsAccessUnitReader((u) => units.push(u));
    let early = 0;
    for (let i = 0; i + 188 <= ts.stdout.length; i += 188) {
      const before = units.length;
      const packet = ts.stdout.subarray(i, i + 188);
      reader.push(packet);
      // A unit that came out on a packet that does not start a PES was complete on its own.
      if (units.length > before && !((packet[1] ?? 0) & 0x40)) early++;
    }
    // No flush(): the last picture is out too, whole (one unit per frame, each starting a picture).
    assert.equal(units.length, 30);
    assert.equal(early, 30);
    assert.ok(units.every((u) => u.nals.some((n) => [1, 5].includes(nalType(n)))));
  });
});
