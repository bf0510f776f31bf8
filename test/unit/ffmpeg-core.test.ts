import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chooseEncoder, describeCapabilities, featuresOf, hardwareEncoders, parseLibavformat, parseVersion, tooOld } from '../../src/ffmpeg/capabilities.js';
import { rtspInputArgs } from '../../src/ffmpeg/args/input-args.js';
import { classifyFailure, type FailureReason } from '../../src/ffmpeg/failure-reason.js';
import { ProgressParser } from '../../src/ffmpeg/progress-parser.js';
import { chooseFfmpeg, type BinaryCandidates } from '../../src/ffmpeg/resolve-binary.js';
import { StderrRing } from '../../src/ffmpeg/stderr-ring.js';

/** Two `-progress` blocks as FFmpeg 5.1 writes them (transcode to SRTP, one video stream). */
const PROGRESS_TEXT = [
  'frame=12', 'fps=0.00', 'stream_0_0_q=-1.0', 'bitrate=N/A', 'total_size=N/A', 'out_time_us=1200000',
  'out_time_ms=1200000', 'out_time=00:00:01.200000', 'dup_frames=0', 'drop_frames=0', 'speed=2.35x', 'progress=continue',
  'frame=25', 'fps=24.80', 'stream_0_0_q=23.0', 'bitrate= 812.3kbits/s', 'total_size=126936', 'out_time_us=2500000',
  'out_time_ms=2500000', 'out_time=00:00:02.500000', 'dup_frames=1', 'drop_frames=3', 'speed=N/A', 'progress=end',
].join('\n') + '\n';

describe('ProgressParser', () => {
  const expected = [
    { frame: 12, fps: 0, bitrateKbps: 0, outTimeMs: 1200, totalSizeBytes: 0, dupFrames: 0, dropFrames: 0, speed: 2.35, end: false },
    { frame: 25, fps: 24.8, bitrateKbps: 812.3, outTimeMs: 2500, totalSizeBytes: 126936, dupFrames: 1, dropFrames: 3, speed: 0, end: true },
  ];

  it('parses whole blocks, N/A values and progress=end', () => {
    assert.deepEqual(new ProgressParser().push(PROGRESS_TEXT), expected);
  });

  for (const size of [1, 2, 3, 7, 16, 64]) {
    it(`gives the same blocks when fed in ${size}-character chunks`, () => {
      const parser = new ProgressParser();
      const blocks = [];
      for (let i = 0; i < PROGRESS_TEXT.length; i += size) blocks.push(...parser.push(PROGRESS_TEXT.slice(i, i + size)));
      assert.deepEqual(blocks, expected);
    });
  }

  it('emits nothing until progress= is seen and does not leak fields between blocks', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('frame=5\nfps=5\n'), []);
    assert.deepEqual(parser.push('progress=continue\n').map((b) => b.frame), [5]);
    const [next] = parser.push('fps=7\nprogress=continue\n');
    assert.equal(next?.frame, 0, 'frame from the previous block must not carry over');
    assert.equal(next?.fps, 7);
  });

  it('accepts CRLF, falls back to out_time_ms and ignores junk lines', () => {
    const [block] = new ProgressParser().push('garbage\r\n=nokey\r\nframe=3\r\nout_time_ms=-5000\r\nspeed=1x\r\nprogress=continue\r\n');
    assert.deepEqual(block, { frame: 3, fps: 0, bitrateKbps: 0, outTimeMs: 0, totalSizeBytes: 0, dupFrames: 0, dropFrames: 0, speed: 1, end: false });
  });

  it('keeps a bounded partial line', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('x'.repeat(100_000)), []);
    assert.deepEqual(parser.push('\nframe=9\nprogress=end\n').map((b) => [b.frame, b.end]), [[9, true]]);
  });
});

describe('StderrRing', () => {
  it('keeps only the newest `capacity` complete lines', () => {
    const ring = new StderrRing(3);
    const complete = ring.push('l1\nl2\nl3\nl4\nl5\n');
    assert.deepEqual(complete, ['l1', 'l2', 'l3', 'l4', 'l5']);
    assert.deepEqual(ring.snapshot(), ['l3', 'l4', 'l5']);
  });

  it('joins partial lines across chunks (LF, CRLF, CR and a CR/LF split between chunks)', () => {
    const ring = new StderrRing(10);
    assert.deepEqual(ring.push('[rtsp @ 0x1] method DESC'), []);
    assert.deepEqual(ring.snapshot(), ['[rtsp @ 0x1] method DESC'], 'the partial line is visible in a snapshot');
    assert.deepEqual(ring.push('RIBE failed: 401 Unauthorized\r'), ['[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized']);
    assert.deepEqual(ring.push('\nframe=1\rframe=2\r\n'), ['frame=1', 'frame=2']);
    assert.deepEqual(ring.snapshot(), ['[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized', 'frame=1', 'frame=2']);
  });

  it('drops blank lines, trims trailing space and caps line length', () => {
    const ring = new StderrRing(5, 10);
    assert.deepEqual(ring.push('\n   \nabc   \n' + 'y'.repeat(50) + '\n'), ['abc', 'y'.repeat(10)]);
    ring.push('z'.repeat(50));
    assert.equal(ring.snapshot().at(-1)?.length, 10, 'a long partial line is capped too');
  });

  it('returns a copy from snapshot()', () => {
    const ring = new StderrRing();
    ring.push('a\n');
    ring.snapshot().push('mutated');
    assert.deepEqual(ring.snapshot(), ['a']);
  });
});

describe('classifyFailure', () => {
  // Lines as FFmpeg 5.1 prints them (captured against a scripted RTSP/HTTP server and closed ports).
  const cases: Array<{ name: string; stderr: string[]; reason: FailureReason }> = [
    {
      name: 'RTSP 401',
      stderr: ['[rtsp @ 0x55eadfac5940] method DESCRIBE failed: 401 Unauthorized', 'rtsp://admin:***@127.0.0.1:43577/401: Server returned 401 Unauthorized (authorization failed)'],
      reason: 'unauthorized',
    },
    { name: 'HTTP 401', stderr: ['[http @ 0x5595bee1e140] HTTP error 401 Unauthorized', 'http://127.0.0.1/snap.jpg: Server returned 401 Unauthorized (authorization failed)'], reason: 'unauthorized' },
    { name: 'RTSP 403', stderr: ['[rtsp @ 0x559c4d04d940] method DESCRIBE failed: 403 Forbidden', 'rtsp://h/x: Server returned 403 Forbidden (access denied)'], reason: 'forbidden' },
    { name: 'RTSP 404', stderr: ['[rtsp @ 0x55d50e29d940] method DESCRIBE failed: 404 Not Found', 'rtsp://admin:***@127.0.0.1:43577/404: Server returned 404 Not Found'], reason: 'not_found' },
    { name: 'connection refused', stderr: ['[tcp @ 0x56182d00e580] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused', 'rtsp://admin:***@127.0.0.1:1/x: Connection refused'], reason: 'unreachable' },
    { name: 'connection timed out', stderr: ['[tcp @ 0x56182d00e580] Connection to tcp://10.0.0.9:554?timeout=0 failed: Connection timed out', 'rtsp://10.0.0.9:554/x: Connection timed out'], reason: 'unreachable' },
    { name: 'DNS failure', stderr: ['[tcp @ 0x55f503730580] Failed to resolve hostname nonexistent.invalid: Name or service not known', 'rtsp://nonexistent.invalid/x: Input/output error'], reason: 'unreachable' },
    {
      name: 'RTSP 453 on SETUP (last line is the generic 4XX text)',
      stderr: ['[rtsp @ 0x55c11bce8940] method SETUP failed: 453 Not Enough Bandwidth', 'rtsp://h/453: Server returned 4XX Client Error, but not one of 40{0,1,3,4}'],
      reason: 'unreachable',
    },
    // FFmpeg prints "5XX" literally for every 5xx status, never the digits.
    { name: 'RTSP 503', stderr: ['[rtsp @ 0x55bd27f00940] method DESCRIBE failed: 503 Service Unavailable', 'rtsp://h/503: Server returned 5XX Server Error reply'], reason: 'unreachable' },
    { name: 'HTTP 500', stderr: ['[http @ 0x55d6cd290140] HTTP error 500 Internal Server Error', 'http://h/500: Server returned 5XX Server Error reply'], reason: 'unreachable' },
    {
      name: 'RTSP 461 on SETUP (a UDP-only camera asked for TCP)',
      stderr: ['[rtsp @ 0x562bb074b980] method SETUP failed: 461 Unsupported transport', 'rtsp://127.0.0.1:44791/stream: Protocol not supported'],
      reason: 'unsupported_transport',
    },
    { name: 'no streams', stderr: ['Output file #0 does not contain any stream'], reason: 'no_video' },
    { name: 'unknown error', stderr: ['rtsp://h/x: Invalid data found when processing input'], reason: 'ffmpeg_failed' },
    { name: 'empty', stderr: [], reason: 'ffmpeg_failed' },
    {
      name: 'the newest matching line wins',
      stderr: ['rtsp://h/x: Connection refused', '[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized', 'Exiting normally, received signal 15.'],
      reason: 'unauthorized',
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.reason}`, () => assert.equal(classifyFailure(c.stderr), c.reason));
  }
});

describe('chooseFfmpeg', () => {
  const base = (executable: string[], extra: Partial<BinaryCandidates> = {}): BinaryCandidates => ({
    pathDirs: ['', '/usr/local/bin', '/usr/bin'],
    isExecutable: (p) => executable.includes(p),
    ...extra,
  });
  const cases: Array<{ name: string; c: BinaryCandidates; want: ReturnType<typeof chooseFfmpeg> }> = [
    {
      name: 'configured wins over bundled and PATH',
      c: base(['/opt/ff', '/bundled/ffmpeg', '/usr/bin/ffmpeg'], { configured: '/opt/ff', bundled: '/bundled/ffmpeg' }),
      want: { ok: true, path: '/opt/ff', origin: 'configured' },
    },
    {
      name: 'bundled before PATH',
      c: base(['/bundled/ffmpeg', '/usr/bin/ffmpeg'], { bundled: '/bundled/ffmpeg' }),
      want: { ok: true, path: '/bundled/ffmpeg', origin: 'ffmpeg-for-homebridge' },
    },
    {
      name: 'empty configured path is treated as unset',
      c: base(['/bundled/ffmpeg'], { configured: '', bundled: '/bundled/ffmpeg' }),
      want: { ok: true, path: '/bundled/ffmpeg', origin: 'ffmpeg-for-homebridge' },
    },
    {
      name: 'bundled not executable → first PATH hit, in PATH order',
      c: base(['/usr/local/bin/ffmpeg', '/usr/bin/ffmpeg'], { bundled: '/bundled/ffmpeg' }),
      want: { ok: true, path: join('/usr/local/bin', 'ffmpeg'), origin: 'PATH' },
    },
    { name: 'later PATH entry', c: base(['/usr/bin/ffmpeg']), want: { ok: true, path: '/usr/bin/ffmpeg', origin: 'PATH' } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(chooseFfmpeg(c.c), c.want));
  }

  it('configured but missing is an error naming the path, with no silent fallback', () => {
    const choice = chooseFfmpeg(base(['/bundled/ffmpeg', '/usr/bin/ffmpeg'], { configured: '/nope/ffmpeg', bundled: '/bundled/ffmpeg' }));
    assert.equal(choice.ok, false);
    assert.match(choice.ok ? '' : choice.message, /ffmpegPath "\/nope\/ffmpeg" is not an executable file/);
  });

  it('nothing found anywhere', () => {
    const choice = chooseFfmpeg(base([]));
    assert.equal(choice.ok, false);
    assert.match(choice.ok ? '' : choice.message, /no FFmpeg found/);
  });

  it('never probes an empty PATH entry (which would mean the current directory)', () => {
    const probed: string[] = [];
    chooseFfmpeg({ pathDirs: ['', '/a'], isExecutable: (p) => { probed.push(p); return false; } });
    assert.deepEqual(probed, ['/a/ffmpeg']);
  });
});

describe('capabilities', () => {
  const versions: Array<[string, string]> = [
    ['ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers\nbuilt with gcc 12', '5.1.9-0+deb12u1'],
    ['ffmpeg version n6.1.1 Copyright (c) 2000-2023', 'n6.1.1'],
    ['ffmpeg version N-113000-g1234abcd-static https://johnvansickle.com/ffmpeg/', 'N-113000-g1234abcd-static'],
    ['', 'unknown'],
    ['ffprobe version 5.1', 'unknown'],
  ];
  for (const [text, want] of versions) {
    it(`parseVersion(${JSON.stringify(text.slice(0, 30))}) = ${want}`, () => assert.equal(parseVersion(text), want));
  }

  it('hardwareEncoders lists only known hardware H.264 encoders, in a fixed order', () => {
    const encoders = new Set(['libx264', 'h264_nvenc', 'h264_vaapi', 'hevc_vaapi', 'mjpeg']);
    assert.deepEqual(hardwareEncoders({ encoders }), ['h264_vaapi', 'h264_nvenc']);
    assert.deepEqual(hardwareEncoders({ encoders: new Set() }), []);
  });

  it('describeCapabilities', () => {
    assert.equal(
      describeCapabilities({ path: '/usr/bin/ffmpeg', version: '5.1.9', encoders: new Set(['libx264', 'libopus', 'h264_v4l2m2m']) }),
      'FFmpeg 5.1.9 at /usr/bin/ffmpeg: libx264 yes, libopus yes, libfdk_aac no, hardware H.264 encoders listed: h264_v4l2m2m',
    );
    assert.match(describeCapabilities({ path: 'ffmpeg', version: 'unknown', encoders: new Set() }), /libx264 no, libopus no, libfdk_aac no, hardware H\.264 encoders listed: none$/);
  });
});

describe('FFmpeg version-aware options', () => {
  const versions = [
    { name: 'FFmpeg 4.1 static git build (@ffmpeg-installer)', text: 'ffmpeg version N-47683-g0e8eb07980-static\nlibavformat    58. 24.100 / 58. 24.100', lavf: [58, 24], timeout: '-stimeout', stats: false, old: false },
    { name: 'FFmpeg 4.3 (Raspberry Pi OS Bullseye)', text: 'libavformat    58. 45.100 / 58. 45.100', lavf: [58, 45], timeout: '-stimeout', stats: false, old: false },
    { name: 'FFmpeg 4.4 (Ubuntu 22.04)', text: 'libavformat    58. 76.100 / 58. 76.100', lavf: [58, 76], timeout: '-stimeout', stats: true, old: false },
    { name: 'FFmpeg 5.1 (Debian 12)', text: 'libavformat    59. 27.100 / 59. 27.100', lavf: [59, 27], timeout: '-timeout', stats: true, old: false },
    { name: 'FFmpeg 6.1', text: 'libavformat    60. 16.100 / 60. 16.100', lavf: [60, 16], timeout: '-timeout', stats: true, old: false },
    { name: 'FFmpeg 7.1', text: 'libavformat    61.  7.100 / 61.  7.100', lavf: [61, 7], timeout: '-timeout', stats: true, old: false },
    { name: 'FFmpeg 4.0', text: 'libavformat    58. 12.100 / 58. 12.100', lavf: [58, 12], timeout: '-stimeout', stats: false, old: true },
    { name: 'FFmpeg 3.4', text: 'libavformat    57. 83.100 / 57. 83.100', lavf: [57, 83], timeout: '-stimeout', stats: false, old: true },
  ] as const;
  for (const v of versions) {
    it(v.name, () => {
      const lavf = parseLibavformat(v.text);
      assert.deepEqual(lavf && [lavf.major, lavf.minor], [...v.lavf]);
      const f = featuresOf(lavf);
      assert.equal(f.rtspSocketTimeout, v.timeout);
      assert.equal(f.statsPeriod, v.stats);
      assert.equal(f.scaleDivisibleBy, v.lavf[0] > 58 || (v.lavf[0] === 58 && v.lavf[1] >= 45));
      assert.equal(tooOld(lavf, 'x') !== undefined, v.old);
      const args = rtspInputArgs({ url: 'rtsp://h/x', transport: 'tcp', timeoutOption: f.rtspSocketTimeout });
      assert.ok(args.includes(v.timeout) && !args.includes(v.timeout === '-timeout' ? '-stimeout' : '-timeout'));
    });
  }
  it('unreadable version: current options, not refused', () => {
    assert.equal(parseLibavformat('ffmpeg version weird'), undefined);
    assert.deepEqual(featuresOf(undefined), { rtspSocketTimeout: '-timeout', statsPeriod: true, scaleDivisibleBy: true });
    assert.equal(tooOld(undefined, 'weird'), undefined);
    assert.match(tooOld({ major: 57, minor: 83 }, '3.4.8') ?? '', /FFmpeg 3\.4\.8 .* too old: homebridge-cctv needs FFmpeg 4\.1 or later/);
  });
  it('chooseEncoder', () => {
    const encoders = new Set(['libx264', 'h264_v4l2m2m', 'h264_vaapi']);
    assert.deepEqual(chooseEncoder('libx264', encoders), { encoder: 'libx264' });
    assert.deepEqual(chooseEncoder('h264_v4l2m2m', encoders), { encoder: 'h264_v4l2m2m' });
    assert.match(chooseEncoder('h264_nvenc', encoders).warning ?? '', /h264_nvenc is not in this FFmpeg's encoder list; using libx264/);
    assert.equal(chooseEncoder('h264_nvenc', encoders).encoder, 'libx264');
    assert.match(chooseEncoder('h264_vaapi', encoders).warning ?? '', /not supported/);
  });
});
