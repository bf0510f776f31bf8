import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { LOG_ARGS, rtspInputArgs, sharedFeedInputArgs, UDP_RECEIVE_BUFFER_BYTES, urlInputArgs } from '../../src/ffmpeg/args/input-args.js';
import { snapshotArgs } from '../../src/ffmpeg/args/snapshot-args.js';
import { sourceArgs } from '../../src/ffmpeg/args/source-args.js';
import { SRTP_SUITE, srtpOutputArgs, srtpUrl, type SrtpTarget } from '../../src/ffmpeg/args/srtp-args.js';
import { audioEncodeArgs, streamArgs, videoEncodeArgs, type AudioOutput, type VideoOutput } from '../../src/ffmpeg/args/stream-args.js';

const HOSTILE_PASSWORD = `p a;ss'"$(id)\`x\`&&|*`;
const HOSTILE_URL = `rtsp://admin:${HOSTILE_PASSWORD}@192.168.1.10:554/stream1`;

/** The value right after `flag` (first occurrence). */
function after(args: readonly string[], flag: string, from = 0): string | undefined {
  const i = args.indexOf(flag, from);
  return i < 0 ? undefined : args[i + 1];
}

const target = (overrides: Partial<SrtpTarget> = {}): SrtpTarget => ({
  address: '192.168.1.50',
  port: 51000,
  keyAndSalt: Buffer.from(Array.from({ length: 30 }, (_, i) => i + 1)),
  mtu: 1378,
  ...overrides,
});

const video = (overrides: Partial<VideoOutput> = {}): VideoOutput => ({
  mode: 'transcode',
  encoder: 'libx264',
  width: 1280,
  height: 720,
  fps: 30,
  bitrateKbps: 299,
  profile: 'high',
  level: '4.0',
  payloadType: 99,
  ssrc: 0x12345678,
  target: target(),
  ...overrides,
});

const audio = (overrides: Partial<AudioOutput> = {}): AudioOutput => ({
  codec: 'opus',
  sampleRateKhz: 16,
  bitrateKbps: 24,
  channels: 1,
  packetTimeMs: 20,
  payloadType: 110,
  ssrc: 0xdeadbeef,
  target: target({ port: 51002 }),
  ...overrides,
});

describe('builders return a fresh string[] each call', () => {
  const builders: Array<[string, () => string[]]> = [
    ['rtspInputArgs', () => rtspInputArgs({ url: HOSTILE_URL, transport: 'tcp' })],
    ['urlInputArgs', () => urlInputArgs('http://cam/snap.jpg')],
    ['sharedFeedInputArgs', () => sharedFeedInputArgs()],
    ['sourceArgs', () => sourceArgs({ input: { url: HOSTILE_URL, transport: 'tcp' }, audio: true })],
    ['snapshotArgs', () => snapshotArgs({ input: sharedFeedInputArgs(), width: 640, height: 360 })],
    ['videoEncodeArgs copy', () => videoEncodeArgs(video({ mode: 'copy' }))],
    ['videoEncodeArgs transcode', () => videoEncodeArgs(video())],
    ['audioEncodeArgs', () => audioEncodeArgs(audio())],
    ['srtpOutputArgs', () => srtpOutputArgs(target(), 99, 1)],
    ['streamArgs', () => streamArgs({ input: sharedFeedInputArgs(), video: video(), audio: audio() })],
  ];
  for (const [name, build] of builders) {
    it(name, () => {
      const a = build();
      const b = build();
      assert.ok(Array.isArray(a));
      assert.ok(a.every((x) => typeof x === 'string' && x.length > 0), 'only non-empty strings');
      assert.notEqual(a, b);
      assert.deepEqual(a, b);
      const copy = [...b];
      a.push('--mutated');
      a[0] = 'changed';
      assert.deepEqual(build(), copy, 'mutating one result does not affect the next');
    });
  }

  it('LOG_ARGS is not shared into results', () => {
    const before = [...LOG_ARGS];
    const args = sourceArgs({ input: { url: 'rtsp://h/x', transport: 'tcp' }, audio: false });
    args[0] = 'x';
    assert.deepEqual([...LOG_ARGS], before);
  });
});

describe('input args', () => {
  for (const transport of ['tcp', 'udp'] as const) {
    it(`rtsp transport ${transport}`, () => {
      const args = rtspInputArgs({ url: 'rtsp://h/x', transport });
      assert.equal(after(args, '-rtsp_transport'), transport);
      assert.equal(after(args, '-timeout'), '10000000');
      // UDP: a receive buffer for 2 s of 4 Mbit/s; TCP has no such option (the kernel's TCP window).
      assert.equal(after(args, '-buffer_size'), transport === 'udp' ? String(UDP_RECEIVE_BUFFER_BYTES) : undefined);
      assert.ok(UDP_RECEIVE_BUFFER_BYTES >= 4_000_000 / 8 * 2);
      assert.equal(args.at(-2), '-i');
      assert.equal(args.at(-1), 'rtsp://h/x');
    });
  }

  it('timeout in microseconds', () => {
    assert.equal(after(rtspInputArgs({ url: 'rtsp://h/x', transport: 'tcp', timeoutSeconds: 2.5 }), '-timeout'), '2500000');
  });

  const urls = [HOSTILE_URL, 'rtsp://admin:pa ss@h/x', "rtsp://a:b'c\"d@h/x", 'rtsp://a:b;reboot@h/x', 'rtsp://a:$(rm -rf /)@h/x'];
  for (const url of urls) {
    it(`a hostile URL stays one argv element: ${url}`, () => {
      for (const args of [
        rtspInputArgs({ url, transport: 'tcp' }),
        sourceArgs({ input: { url, transport: 'udp' }, audio: true }),
        urlInputArgs(url),
      ]) {
        assert.equal(args.filter((a) => a === url).length, 1);
        assert.equal(after(args, '-i'), url);
        assert.ok(!args.some((a) => a !== url && (a.includes('pa') && a.includes('ss@'))), 'no fragment of the URL elsewhere');
      }
    });
  }

  const urlCases: Array<[string, string[]]> = [
    ['http://cam/snap.jpg', ['-rw_timeout', '5000000', '-i', 'http://cam/snap.jpg']],
    ['HTTPS://cam/snap.jpg', ['-rw_timeout', '5000000', '-i', 'HTTPS://cam/snap.jpg']],
    ['rtsp://cam/2', ['-i', 'rtsp://cam/2']],
  ];
  for (const [url, want] of urlCases) {
    it(`urlInputArgs(${url})`, () => assert.deepEqual(urlInputArgs(url), want));
  }

  it('sharedFeedInputArgs reads MPEG-TS from stdin', () => {
    const args = sharedFeedInputArgs();
    assert.equal(after(args, '-f'), 'mpegts');
    assert.equal(after(args, '-i'), 'pipe:0');
  });
});

describe('sourceArgs', () => {
  const cases: Array<{ name: string; audio: boolean; codec?: string; want: string[] | undefined }> = [
    { name: 'no audio', audio: false, want: undefined },
    { name: 'audio, unknown codec → AAC', audio: true, want: ['-c:a', 'aac'] },
    { name: 'audio, PCMU → AAC', audio: true, codec: 'PCMU', want: ['-c:a', 'aac'] },
    { name: 'audio, MPEG4-GENERIC → copy', audio: true, codec: 'MPEG4-GENERIC', want: ['-c:a', 'copy'] },
    { name: 'audio, aac → copy', audio: true, codec: 'aac', want: ['-c:a', 'copy'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const args = sourceArgs({ input: { url: 'rtsp://h/x', transport: 'tcp' }, audio: c.audio, sourceAudioCodec: c.codec });
      assert.equal(after(args, '-c:v'), 'copy');
      assert.equal(after(args, '-bsf:v'), 'dump_extra=freq=keyframe');
      assert.equal(after(args, '-f', args.indexOf('-i')), 'mpegts');
      assert.equal(args.at(-1), 'pipe:1');
      if (!c.want) {
        assert.ok(args.includes('-an'));
        assert.ok(!args.includes('-c:a'));
      } else {
        assert.equal(after(args, '-map', args.indexOf('0:v:0')), '0:a:0?', 'audio is optional');
        assert.equal(after(args, '-c:a'), c.want[1]);
      }
    });
  }
});

describe('stream args', () => {
  it('copy mode: -c:v copy with dump_extra, no scale, no encoder options', () => {
    const args = videoEncodeArgs(video({ mode: 'copy', skipFrames: 10 }));
    assert.deepEqual(args, ['-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe']);
    const full = streamArgs({ input: sharedFeedInputArgs(), video: video({ mode: 'copy' }) });
    assert.ok(!full.some((a) => a.includes('scale=')));
    assert.ok(!full.includes('-vf') && !full.includes('-preset') && !full.includes('-b:v'));
  });

  const transcodeCases: Array<{ name: string; v: Partial<VideoOutput>; select: string | undefined }> = [
    { name: 'no skip', v: {}, select: undefined },
    { name: 'skip 0', v: { skipFrames: 0 }, select: undefined },
    { name: 'skip 7', v: { skipFrames: 7 }, select: 'select=gte(n\\,7)' },
    { name: 'skip 7.9 floors', v: { skipFrames: 7.9 }, select: 'select=gte(n\\,7)' },
    { name: 'negative skip', v: { skipFrames: -3 }, select: undefined },
  ];
  for (const c of transcodeCases) {
    it(`transcode libx264, ${c.name}`, () => {
      const args = videoEncodeArgs(video(c.v));
      const vf = after(args, '-vf') ?? '';
      assert.equal(after(args, '-c:v'), 'libx264');
      assert.equal(after(args, '-preset'), 'ultrafast');
      assert.equal(after(args, '-tune'), 'zerolatency');
      assert.equal(after(args, '-profile:v'), 'high');
      assert.equal(after(args, '-level:v'), '4.0');
      assert.equal(after(args, '-r'), '30');
      assert.equal(after(args, '-g'), '60');
      assert.equal(after(args, '-bf'), '0');
      assert.equal(after(args, '-b:v'), '299k');
      assert.equal(after(args, '-maxrate'), '299k');
      assert.equal(after(args, '-bufsize'), '598k');
      assert.match(vf, /scale=1280:720:force_original_aspect_ratio=decrease/);
      if (c.select) {
        assert.ok(vf.startsWith(`${c.select},setpts=PTS-STARTPTS,`), vf);
      } else {
        assert.ok(!vf.includes('select'), vf);
      }
    });
  }

  it('hardware encoder: no x264-only options', () => {
    const args = videoEncodeArgs(video({ encoder: 'h264_vaapi', profile: 'main' }));
    assert.equal(after(args, '-c:v'), 'h264_vaapi');
    assert.equal(after(args, '-profile:v'), 'main');
    for (const flag of ['-preset', '-tune', '-x264-params', '-level:v']) assert.ok(!args.includes(flag), flag);
  });

  const audioCases: Array<{ a: Partial<AudioOutput>; want: Record<string, string> }> = [
    { a: {}, want: { '-c:a': 'libopus', '-application': 'lowdelay', '-frame_duration': '20', '-ar': '16000', '-ac': '1', '-b:a': '24k' } },
    { a: { sampleRateKhz: 24, packetTimeMs: 60, channels: 2 }, want: { '-c:a': 'libopus', '-frame_duration': '60', '-ar': '24000', '-ac': '2' } },
    { a: { packetTimeMs: 40 }, want: { '-frame_duration': '40' } },
    // libopus refuses 30 ms ("Frame duration must be exactly one of: 2.5, 5, 10, 20, 40, 60…"),
    // which would kill the viewer's whole FFmpeg, video included.
    { a: { packetTimeMs: 30 }, want: { '-frame_duration': '20' } },
    { a: { codec: 'aac-eld' }, want: { '-c:a': 'libfdk_aac', '-profile:a': 'aac_eld', '-ar': '16000' } },
  ];
  for (const c of audioCases) {
    it(`audio ${JSON.stringify(c.a)}`, () => {
      const args = audioEncodeArgs(audio(c.a));
      for (const [flag, value] of Object.entries(c.want)) assert.equal(after(args, flag), value, flag);
      if (c.a.codec === 'aac-eld') assert.ok(!args.includes('-frame_duration'));
    });
  }

  for (const packetTimeMs of [20, 30, 60]) {
    it(`real FFmpeg accepts the Opus args for a ${packetTimeMs} ms packet time`, () => {
      assert.doesNotThrow(() => execFileSync('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.3',
        ...audioEncodeArgs(audio({ packetTimeMs })), '-f', 'null', '-',
      ], { stdio: 'pipe' }));
    });
  }

  it('streamArgs: video output then audio output, each with its own SRTP target, progress on fd 3', () => {
    const args = streamArgs({ input: sharedFeedInputArgs(), video: video(), audio: audio() });
    const videoUrl = 'srtp://192.168.1.50:51000?rtcpport=51000&pkt_size=1378';
    const audioUrl = 'srtp://192.168.1.50:51002?rtcpport=51002&pkt_size=1378';
    const v = args.indexOf(videoUrl);
    const a = args.indexOf(audioUrl);
    assert.ok(v > 0 && a > v, 'video URL before audio URL');
    assert.equal(after(args, '-map'), '0:v:0');
    assert.equal(after(args, '-map', v), '0:a:0');
    assert.ok(args.slice(v).includes('-vn'));
    assert.equal(after(args, '-payload_type'), '99');
    assert.equal(after(args, '-payload_type', v), '110');
    assert.equal(after(args, '-progress'), 'pipe:3');
    assert.equal(args.indexOf('-i'), LOG_ARGS.length + sharedFeedInputArgs().indexOf('-i'));
  });

  it('streamArgs without audio has one output', () => {
    const args = streamArgs({ input: sharedFeedInputArgs(), video: video() });
    assert.equal(args.filter((x) => x.startsWith('srtp://')).length, 1);
    assert.ok(!args.includes('-c:a'));
  });
});

describe('SRTP args', () => {
  const urlCases: Array<[Partial<SrtpTarget>, string]> = [
    [{}, 'srtp://192.168.1.50:51000?rtcpport=51000&pkt_size=1378'],
    [{ address: 'fe80::1c2a:3bff:fe4d:5e6f', port: 50000, mtu: 1228 }, 'srtp://[fe80::1c2a:3bff:fe4d:5e6f]:50000?rtcpport=50000&pkt_size=1228'],
    [{ address: '::ffff:192.168.1.5', port: 1, mtu: 188 }, 'srtp://[::ffff:192.168.1.5]:1?rtcpport=1&pkt_size=188'],
  ];
  for (const [t, want] of urlCases) {
    it(want, () => assert.equal(srtpUrl(target(t)), want));
  }

  const ssrcs: Array<[number, string]> = [
    [0, '0'], [1, '1'], [0x7fffffff, '2147483647'], [0x80000000, '-2147483648'], [0xdeadbeef, '-559038737'], [0xffffffff, '-1'],
  ];
  for (const [ssrc, want] of ssrcs) {
    it(`ssrc ${ssrc} → ${want}`, () => assert.equal(after(srtpOutputArgs(target(), 99, ssrc), '-ssrc'), want));
  }

  it('-srtp_out_params is base64 of exactly the 30 key+salt bytes', () => {
    const t = target();
    const args = srtpOutputArgs(t, 99, 1);
    const params = after(args, '-srtp_out_params') ?? '';
    assert.equal(Buffer.from(params, 'base64').length, 30);
    assert.deepEqual(Buffer.from(params, 'base64'), t.keyAndSalt);
    assert.equal(after(args, '-srtp_out_suite'), SRTP_SUITE);
    assert.equal(SRTP_SUITE, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(after(args, '-f'), 'rtp');
    assert.equal(args.at(-1), srtpUrl(t));
  });
});

describe('snapshotArgs', () => {
  const cases: Array<{ w: number; h: number; skip?: number; want: string }> = [
    { w: 640, h: 360, want: 'scale=640:360:force_original_aspect_ratio=increase,crop=640:360' },
    { w: 1280, h: 720, skip: 0, want: 'scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720' },
    { w: 319.6, h: 179.5, want: 'scale=320:180:force_original_aspect_ratio=increase,crop=320:180' },
    { w: 0, h: -5, want: 'scale=2:2:force_original_aspect_ratio=increase,crop=2:2' },
    { w: 320, h: 240, skip: 4, want: 'select=gte(n\\,4),scale=320:240:force_original_aspect_ratio=increase,crop=320:240' },
  ];
  for (const c of cases) {
    it(`${c.w}x${c.h} skip ${c.skip ?? '-'}`, () => {
      const args = snapshotArgs({ input: ['-i', 'x'], width: c.w, height: c.h, skipFrames: c.skip });
      const vf = after(args, '-vf') ?? '';
      const expected = `${c.want},format=yuvj420p`;
      assert.equal(vf, expected);
      assert.equal(after(args, '-frames:v'), '1');
      assert.equal(after(args, '-q:v'), '5');
      assert.equal(args.at(-1), 'pipe:1');
    });
  }

  it('quality is configurable', () => {
    assert.equal(after(snapshotArgs({ input: [], width: 2, height: 2, quality: 2 }), '-q:v'), '2');
  });

  it('real FFmpeg: a generated MPEG-TS on stdin → a 320x180 JPEG', () => {
    const ts = execFileSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '2',
      '-c:v', 'libx264', '-g', '10', '-bf', '0', '-f', 'mpegts', '-',
    ], { maxBuffer: 64 * 1024 * 1024 });
    const jpeg = execFileSync('ffmpeg', snapshotArgs({ input: sharedFeedInputArgs(), width: 320, height: 180, skipFrames: 5 }), {
      input: ts,
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG SOI');
    assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9], 'JPEG EOI');
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', '-i', 'pipe:0'], { input: jpeg }).toString()) as {
      streams: Array<{ codec_name: string; width: number; height: number }>;
    };
    assert.equal(probe.streams.length, 1);
    assert.equal(probe.streams[0]?.codec_name, 'mjpeg');
    assert.equal(probe.streams[0]?.width, 320);
    assert.equal(probe.streams[0]?.height, 180);
  });
});
