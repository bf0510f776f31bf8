import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseSnapshotStream, chooseViewerStream, type StreamCandidate, type ViewerChoice } from '../../src/source/stream-choice.js';

const h265Main: StreamCandidate = { name: 'main', codec: 'h265', width: 2560, height: 1440 };
const h264Main: StreamCandidate = { name: 'main', codec: 'h264', width: 1280, height: 720 };
const sub: StreamCandidate = { name: 'sub', codec: 'h264', width: 640, height: 360 };

describe('chooseViewerStream', () => {
  const cases: { name: string; streams: StreamCandidate[]; w: number; h: number; mode?: 'auto' | 'copy' | 'transcode'; want: ViewerChoice }[] = [
    { name: 'Watch 320x240 on H.264 main + sub: sub', streams: [h264Main, sub], w: 320, h: 240, want: { kind: 'copy', stream: 'sub' } },
    { name: 'remote 640x360: sub', streams: [h264Main, sub], w: 640, h: 360, want: { kind: 'copy', stream: 'sub' } },
    { name: 'iPhone 1280x720: main', streams: [h264Main, sub], w: 1280, h: 720, want: { kind: 'copy', stream: 'main' } },
    { name: '1920x1080 larger than all: largest H.264', streams: [sub, h264Main], w: 1920, h: 1080, want: { kind: 'copy', stream: 'main' } },
    { name: 'H.265 main + H.264 sub, 1280x720: copy of the sub', streams: [h265Main, sub], w: 1280, h: 720, want: { kind: 'copy', stream: 'sub' } },
    { name: 'H.265 only: transcode the main', streams: [h265Main], w: 1280, h: 720, want: { kind: 'transcode', stream: 'main', why: 'no stream is H.264' } },
    { name: 'transcode mode: best stream', streams: [h264Main, sub], w: 320, h: 240, mode: 'transcode', want: { kind: 'transcode', stream: 'main', why: 'video mode is transcode' } },
    { name: 'unknown codec in auto: transcode', streams: [{ name: 'x', width: 640, height: 360 }], w: 640, h: 360, want: { kind: 'transcode', stream: 'x', why: 'no stream is H.264' } },
    { name: 'unknown codec in copy: copy', streams: [{ name: 'x' }], w: 640, h: 360, mode: 'copy', want: { kind: 'copy', stream: 'x' } },
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
