import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseSnapshotStream, chooseViewerStream, describeCandidate, streamCandidate, type CandidateEvidence, type StreamCandidate, type ViewerChoice } from '../../src/source/stream-choice.js';

const h265Main: StreamCandidate = { name: 'main', codec: 'h265', width: 2560, height: 1440 };
const h264Main: StreamCandidate = { name: 'main', codec: 'h264', width: 1280, height: 720 };
const sub: StreamCandidate = { name: 'sub', codec: 'h264', width: 640, height: 360 };

describe('chooseViewerStream', () => {
  const cases: { name: string; streams: StreamCandidate[]; w: number; h: number; mode?: 'auto' | 'copy' | 'transcode'; want: ViewerChoice }[] = [
    { name: 'Watch 320x240 on H.264 main + sub: sub', streams: [h264Main, sub], w: 320, h: 240, want: { kind: 'copy', stream: 'sub', why: 'the smallest H.264 stream at least 320x240' } },
    { name: 'remote 640x360: sub', streams: [h264Main, sub], w: 640, h: 360, want: { kind: 'copy', stream: 'sub', why: 'the smallest H.264 stream at least 640x360' } },
    { name: 'iPhone 1280x720: main', streams: [h264Main, sub], w: 1280, h: 720, want: { kind: 'copy', stream: 'main', why: 'the smallest H.264 stream at least 1280x720' } },
    { name: '1920x1080 larger than all: largest H.264', streams: [sub, h264Main], w: 1920, h: 1080, want: { kind: 'copy', stream: 'main', why: 'the largest H.264 stream (none is 1920x1080)' } },
    { name: 'H.265 main + H.264 sub, 1280x720: copy of the sub', streams: [h265Main, sub], w: 1280, h: 720, want: { kind: 'copy', stream: 'sub', why: 'the largest H.264 stream (none is 1280x720)' } },
    { name: 'H.265 main + H.264 sub, 1920x1080: still a copy of the sub (never a transcode while an H.264 stream exists)', streams: [h265Main, sub], w: 1920, h: 1080, want: { kind: 'copy', stream: 'sub', why: 'the largest H.264 stream (none is 1920x1080)' } },
    { name: 'B-frame H.264 main is not copied: the sub is', streams: [{ ...h264Main, codec: 'h264-reordered' }, sub], w: 1280, h: 720, want: { kind: 'copy', stream: 'sub', why: 'the largest H.264 stream (none is 1280x720)' } },
    { name: 'H.265 only: transcode the main', streams: [h265Main], w: 1280, h: 720, want: { kind: 'transcode', stream: 'main', why: 'no stream is H.264' } },
    { name: 'transcode mode: best stream', streams: [h264Main, sub], w: 320, h: 240, mode: 'transcode', want: { kind: 'transcode', stream: 'main', why: 'video mode is transcode' } },
    { name: 'unknown codec in auto: transcode', streams: [{ name: 'x', width: 640, height: 360 }], w: 640, h: 360, want: { kind: 'transcode', stream: 'x', why: 'no stream is H.264' } },
    { name: 'unknown codec in copy: copy', streams: [{ name: 'x' }], w: 640, h: 360, mode: 'copy', want: { kind: 'copy', stream: 'x', why: 'size not known yet' } },
    { name: 'no streams', streams: [], w: 640, h: 360, want: { kind: 'none' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(chooseViewerStream(c.streams, { width: c.w, height: c.h }, c.mode ?? 'auto'), c.want));
});

describe('chooseSnapshotStream', () => {
  const cases: { name: string; streams: StreamCandidate[]; w: number; h: number; want: string | undefined }[] = [
    { name: 'a live stream wins even if larger', streams: [{ ...h264Main, live: true }, sub], w: 320, h: 240, want: 'main' },
    { name: 'nothing live: smallest covering', streams: [h265Main, sub], w: 640, h: 360, want: 'sub' },
    { name: 'nothing live, bigger than all: largest', streams: [sub, h265Main], w: 3840, h: 2160, want: 'main' },
    { name: 'none', streams: [], w: 640, h: 360, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(chooseSnapshotStream(c.streams, { width: c.w, height: c.h }), c.want));
});

describe('streamCandidate (what is known about a stream)', () => {
  const feed = (videoCodec: string, width: number, height: number, reorders = false): CandidateEvidence['feed'] => ({ videoCodec, sps: { width, height }, reorders });
  const cases: { name: string; e: CandidateEvidence; want: StreamCandidate }[] = [
    { name: 'nothing known', e: { name: 'sub', live: false }, want: { name: 'sub', live: false } },
    { name: 'size hint only', e: { name: 'sub', hint: { width: 640, height: 360 }, live: false }, want: { name: 'sub', width: 640, height: 360, live: false } },
    { name: 'a half hint is no size', e: { name: 'sub', hint: { width: 640 }, live: false }, want: { name: 'sub', live: false } },
    { name: 'probe beats hint; hevc spelled h265', e: { name: 'main', probe: { codec: 'HEVC', width: 2560, height: 1440 }, hint: { width: 1920, height: 1080 }, live: false }, want: { name: 'main', codec: 'h265', width: 2560, height: 1440, live: false } },
    { name: 'feed beats probe', e: { name: 'sub', feed: feed('h264', 704, 576), probe: { codec: 'h265', width: 640, height: 360 }, live: true }, want: { name: 'sub', codec: 'h264', width: 704, height: 576, live: true } },
    { name: 'feed codec without SPS yet: probe size', e: { name: 'sub', feed: { videoCodec: 'h264' }, probe: { codec: 'h264', width: 640, height: 360 }, live: false }, want: { name: 'sub', codec: 'h264', width: 640, height: 360, live: false } },
    { name: 'B-frames: not offered as plain H.264', e: { name: 'main', feed: feed('h264', 1920, 1080, true), live: true }, want: { name: 'main', codec: 'h264-reordered', width: 1920, height: 1080, live: true } },
    { name: 'High 4:4:4 profile: not offered as plain H.264', e: { name: 'main', feed: { videoCodec: 'h264', sps: { width: 1920, height: 1080, profileIdc: 244 } }, live: true }, want: { name: 'main', codec: 'h264-profile-244', width: 1920, height: 1080, live: true } },
    { name: 'High profile is fine', e: { name: 'main', feed: { videoCodec: 'h264', sps: { width: 1920, height: 1080, profileIdc: 100 } }, live: true }, want: { name: 'main', codec: 'h264', width: 1920, height: 1080, live: true } },
    { name: 'copy failed before: not offered for copy', e: { name: 'sub', probe: { codec: 'h264', width: 640, height: 360 }, copyFailed: true, live: false }, want: { name: 'sub', codec: 'h264-copy-failed', width: 640, height: 360, live: false } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(streamCandidate(c.e), c.want));

  it('describes a stream for the log', () => {
    assert.equal(describeCandidate({ name: 'sub', codec: 'h264', width: 640, height: 360 }), 'sub 640x360 H.264');
    assert.equal(describeCandidate({ name: 'main', codec: 'h265' }), 'main H.265');
    assert.equal(describeCandidate({ name: 'x' }), 'x');
  });
});
