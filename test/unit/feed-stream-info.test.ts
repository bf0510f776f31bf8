import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  firstSliceType, nalUnits, pesPayload, reordersFrames, streamInfoSettled, type FeedStreamInfo,
} from '../../src/source/feed-stream-info.js';
import { MpegTsIndexer, TS_PACKET } from '../../src/source/mpegts-indexer.js';

/** Real MPEG-TS from FFmpeg's encoders, the way a camera's stream reaches the shared feed. */
function encode(video: string[], audio: string[] = []): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
    ...(audio.length ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000'] : []),
    '-t', '1', '-pix_fmt', 'yuv420p', ...video, '-g', '25', ...audio, '-f', 'mpegts', '-',
  ], { maxBuffer: 16 * 1024 * 1024 });
}

/** Feeds the indexer in pieces of `step` bytes (not packet-aligned, as pipe reads are). */
function index(ts: Buffer, step: number): FeedStreamInfo {
  const indexer = new MpegTsIndexer();
  for (let offset = 0; offset < ts.length; offset += step) indexer.push(ts.subarray(offset, offset + step));
  return indexer.info;
}

describe('the feed tells its codec (real encoders)', () => {
  const cases = [
    { name: 'H.264 Constrained Baseline', video: ['-c:v', 'libx264', '-profile:v', 'baseline'], codec: 'h264', profile: 66, reorders: false },
    { name: 'H.264 High without B-frames', video: ['-c:v', 'libx264', '-profile:v', 'high', '-bf', '0'], codec: 'h264', profile: 100, reorders: false },
    { name: 'H.264 High with B-frames', video: ['-c:v', 'libx264', '-profile:v', 'high', '-bf', '2'], codec: 'h264', profile: 100, reorders: true },
    { name: 'H.264 Main with B-frames, no VUI reorder hint', video: ['-c:v', 'libx264', '-profile:v', 'main', '-bf', '2', '-x264-params', 'bframes=2:b-pyramid=none'], codec: 'h264', profile: 77, reorders: true },
    { name: 'H.265 Main', video: ['-c:v', 'libx265', '-x265-params', 'log-level=error'], codec: 'h265', profile: 1, reorders: false },
    { name: 'MPEG-2 video', video: ['-c:v', 'mpeg2video'], codec: 'other', profile: undefined, reorders: false },
  ] as const;
  for (const c of cases) {
    for (const step of [TS_PACKET * 64, 100]) {
      it(`${c.name} (pushed in ${step}-byte pieces)`, () => {
        const info = index(encode([...c.video]), step);
        assert.equal(info.videoCodec, c.codec);
        assert.equal(info.sps?.profileIdc, c.profile);
        if (c.codec !== 'other') assert.deepEqual([info.sps?.width, info.sps?.height], [320, 240]);
        assert.equal(reordersFrames(info), c.reorders);
        if (c.codec !== 'other') assert.ok(streamInfoSettled(info), 'settled');
      });
    }
  }

  it('AAC and MP2 audio from the PMT', () => {
    assert.equal(index(encode(['-c:v', 'libx264'], ['-c:a', 'aac']), 4096).audioCodec, 'aac');
    assert.equal(index(encode(['-c:v', 'libx264'], ['-c:a', 'mp2']), 4096).audioCodec, 'mp2');
    assert.equal(index(encode(['-c:v', 'libx264']), 4096).audioCodec, undefined);
  });
});

describe('feed-stream-info helpers', () => {
  it('splits Annex-B NAL units with 3- and 4-byte start codes', () => {
    const es = Buffer.from([0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5]);
    assert.deepEqual(nalUnits(es).map((n) => [...n]), [[0x67, 1, 2], [0x68, 3], [0x65, 4, 5]]);
    assert.deepEqual(nalUnits(Buffer.from([1, 2, 3])), []);
  });

  it('skips the PES header, refuses what is not one', () => {
    const pes = Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 1, 2, 3, 4, 5, 0xaa, 0xbb]);
    assert.deepEqual([...(pesPayload(pes) ?? [])], [0xaa, 0xbb]);
    assert.equal(pesPayload(Buffer.from([0, 0, 2, 0xe0, 0, 0, 0x80, 0x80, 0])), undefined);
    assert.equal(pesPayload(Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 200])), undefined);
  });

  it('reads the first slice type', () => {
    // first_mb_in_slice 0 ('1'), slice_type ue: 1 = B ('010'), 0 = P ('1'), 7 = I ('0001000').
    assert.equal(firstSliceType([Buffer.from([0x09, 0xf0]), Buffer.from([0x01, 0b1010_0000])]), 'B');
    assert.equal(firstSliceType([Buffer.from([0x01, 0b1100_0000])]), 'P');
    assert.equal(firstSliceType([Buffer.from([0x65, 0b1000_1000])]), 'I');
    assert.equal(firstSliceType([Buffer.from([0x06, 0x05])]), undefined, 'SEI only');
    assert.equal(firstSliceType([Buffer.from([0x01])]), undefined, 'header cut off');
  });

  const base: FeedStreamInfo = { videoCodec: 'h264', slicesChecked: 0, bSlicesSeen: false };
  const sps = { codec: 'h264' as const, profileIdc: 100, levelIdc: 40, chromaFormatIdc: 1, bitDepthLuma: 8, width: 1280, height: 720 };
  const settled: Array<{ name: string; info: FeedStreamInfo | undefined; settled: boolean; reorders: boolean }> = [
    { name: 'nothing seen', info: undefined, settled: false, reorders: false },
    { name: 'PMT only', info: base, settled: false, reorders: false },
    { name: 'H.265 needs no slices', info: { ...base, videoCodec: 'h265' }, settled: true, reorders: false },
    { name: 'SPS with reorder 0', info: { ...base, sps: { ...sps, maxNumReorderFrames: 0 } }, settled: true, reorders: false },
    { name: 'SPS with reorder 2', info: { ...base, sps: { ...sps, maxNumReorderFrames: 2 } }, settled: true, reorders: true },
    { name: 'POC type 2', info: { ...base, sps: { ...sps, picOrderCntType: 2 } }, settled: true, reorders: false },
    { name: 'silent SPS, 3 slices', info: { ...base, sps, slicesChecked: 3 }, settled: false, reorders: false },
    { name: 'silent SPS, 4 slices', info: { ...base, sps, slicesChecked: 4 }, settled: true, reorders: false },
    { name: 'silent SPS, a B slice', info: { ...base, sps, slicesChecked: 2, bSlicesSeen: true }, settled: true, reorders: true },
  ];
  for (const c of settled) {
    it(`settled/reorders: ${c.name}`, () => {
      assert.equal(streamInfoSettled(c.info), c.settled);
      if (c.info) assert.equal(reordersFrames(c.info), c.reorders);
    });
  }
});
