import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { classifyFfmpegLine, countDecodeEvidence, DecodeEvidenceCounter, type DecodeEvidenceKind } from '../../src/ffmpeg/decode-evidence.js';

/** Real FFmpeg 5.1 stderr captured from the fixture camera (see the files for the setup). */
const sample = (name: string): string => readFileSync(new URL(`../fixtures/ffmpeg-stderr/${name}`, import.meta.url), 'utf8');

describe('classifyFfmpegLine', () => {
  // Lines copied from the captured samples (and FFmpeg 5.1's messages for the same events).
  const cases: [line: string, expected: DecodeEvidenceKind | null][] = [
    ['[h264 @ 0x5577a60fbcc0] error while decoding MB 53 7', 'slice'],
    ['[h264 @ 0x55f0a1c2d3e0] non-existing PPS 0 referenced', 'slice'],
    ['[h264 @ 0x55f0a1c2d3e0] decode_slice_header error', 'slice'],
    ['[h264 @ 0x55f0a1c2d3e0] Invalid NAL unit size (1234 > 567).', 'slice'],
    ['[h264 @ 0x55f0a1c2d3e0] missing picture in access unit with size 4100', 'slice'],
    ['[h264 @ 0x55f0a1c2d3e0] no frame!', 'slice'],
    ['[hevc @ 0x561053021f40] Could not find ref with POC 64', 'slice'],
    ['[hevc @ 0x561053021f40] entry_point_offset table is corrupted', 'slice'],
    ['pipe:0: corrupt decoded frame in stream 0', 'picture'],
    ['/tmp/decode-cap/feed-udp.ts: corrupt decoded frame in stream 0', 'picture'],
    ['pipe:0: corrupt input packet in stream 0', 'packet'],
    ['[rtsp @ 0x5577a60f6b40] RTP: missed 24 packets', 'packet-loss'],
    // The reason H.264 gives before "error while decoding MB": the same slice, not counted twice.
    ['[h264 @ 0x5577a60fbcc0] corrupted macroblock 53 7 (total_coeff=-1)', null],
    ['[h264 @ 0x5577a60fbcc0] negative number of zero coeffs at 12 30', null],
    ['[h264 @ 0x5577a60fbcc0] mb_type 40 in P slice too large at 3 18', null],
    // The same loss as the "RTP: missed" line after it.
    ['[rtsp @ 0x5577a60f6b40] max delay reached. need to consume packet', null],
    // Clean streams print these.
    ['[h264 @ 0x560779fdbcc0] co located POCs unavailable', null],
    ['[aac @ 0x560779ff5540] Queue input is backward in time', null],
    ['[mpegts @ 0x560779fee480] Non-monotonous DTS in output stream 0:1; previous: 174846, current: 171045; changing to 174847. This may result in incorrect timestamps in the output file.', null],
    ['[null @ 0x55571953dec0] Application provided invalid, non monotonically increasing dts to muxer in stream 1: 94276 >= 94276', null],
    ['[rtsp @ 0x5577a60f6b40] method SETUP failed: 461 Unsupported transport', null],
    ['frame=  120 fps= 15 q=-1.0 size=N/A time=00:00:08.00 bitrate=N/A speed=   1x', null],
    // A URL or a name that merely contains the words.
    ['[tcp @ 0x55f0a1c2d3e0] Connection to tcp://127.0.0.1:554/error while decoding MB failed', null],
    ['', null],
  ];
  for (const [line, expected] of cases) {
    it(`${JSON.stringify(line.slice(0, 70))} → ${expected}`, () => assert.equal(classifyFfmpegLine(line), expected));
  }
});

describe('DecodeEvidenceCounter', () => {
  it('a "Last message repeated" line counts again only what the line before it counted', () => {
    const counter = new DecodeEvidenceCounter();
    const counts = [
      '[hevc @ 0x561053021f40] entry_point_offset table is corrupted',
      '    Last message repeated 4 times',
      '[null @ 0x561053021b80] Application provided invalid, non monotonically increasing dts to muxer in stream 0: 9 >= 9',
      '    Last message repeated 1 times',
    ].map((line) => counter.push(line));
    assert.deepEqual(counts, [1, 4, 0, 0]);
  });
});

describe('countDecodeEvidence on captured FFmpeg 5.1 stderr', () => {
  const cases: [file: string, expected: number, what: string][] = [
    ['clean-bframes-aac-feed.txt', 0, 'copy feed of a clean H.264 High + B-frames + AAC camera'],
    ['clean-bframes-aac-decode.txt', 0, 'decoder reading that clean feed'],
    // 4 × error while decoding MB (probing decodes) + 26 × RTP: missed.
    ['h264-udp-loss-feed.txt', 30, 'copy feed over UDP with a receive buffer too small for the keyframes'],
    // 27 × error while decoding MB + 23 × corrupt decoded frame + 2 repeats of the latter.
    ['h264-udp-loss-decode.txt', 52, 'decoder reading that lossy feed'],
    // 14 HEVC damage lines + 19 repeats of entry_point_offset.
    ['hevc-tcp-loss-decode.txt', 33, 'H.265 decoder after video RTP packets were dropped over TCP'],
  ];
  for (const [file, expected, what] of cases) {
    it(`${file}: ${expected} (${what})`, () => assert.equal(countDecodeEvidence(sample(file)), expected));
  }
});
