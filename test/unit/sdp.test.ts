import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecName, describeSdp, parseSdp } from '../../src/health/sdp.js';
import { BitReader, nalToRbsp, parseH264Sps, parseH265Sps } from '../../src/health/sps.js';

/**
 * Real SPS NAL units produced by FFmpeg 5.1 / x264 / x265 from `testsrc`, e.g.
 * `ffmpeg -f lavfi -i testsrc=size=1920x1080:rate=30 -frames 1 -pix_fmt yuv420p -c:v libx264 -f h264 -`
 * with the SPS (NAL type 7 / 33) cut out of the Annex B stream.
 */
const H264_SPS = [
  { name: '1280x720 High 4:2:0 25 fps', hex: '6764001facd9405005bb011000000300100000030320f1831960', profile: 100, level: 31, chroma: 1, width: 1280, height: 720, fps: 25, poc: 0, reorder: 2 },
  { name: '1920x1080 High, cropped from 1088', hex: '67640028acd940780227e5c044000003000400000300f03c60c658', profile: 100, level: 40, chroma: 1, width: 1920, height: 1080, fps: 30, poc: 0, reorder: 2 },
  { name: '1920x1080 Constrained Baseline', hex: '6742c028d900780227e5c044000003000400000300f03c60c920', profile: 66, level: 40, chroma: 1, width: 1920, height: 1080, fps: 30, poc: 2, reorder: 0 },
  { name: '640x360 Main 15 fps', hex: '674d4016eca05017fcb80880000003008000000f078b16cb', profile: 77, level: 22, chroma: 1, width: 640, height: 360, fps: 15, poc: 0, reorder: 2 },
  { name: '1920x1080 High 4:4:4 (chroma_format_idc 3, crop unit 1)', hex: '67f40028919b280f0044fc4e0220000003002000000781e30632c0', profile: 244, level: 40, chroma: 3, width: 1920, height: 1080, fps: 30, poc: 0, reorder: 2 },
  { name: '1920x1080 High 4:2:2 (chroma_format_idc 2)', hex: '677a0028bcd940780227e27011000003000100000300320f183196', profile: 122, level: 40, chroma: 2, width: 1920, height: 1080, fps: 25, poc: 0, reorder: 2 },
  { name: '2560x1440 High 20 fps', hex: '67640032acd9402800b5b011000003000100000300280f183196', profile: 100, level: 50, chroma: 1, width: 2560, height: 1440, fps: 20, poc: 0, reorder: 2 },
  { name: '1366x768 (horizontal crop)', hex: '67640020acd94056061e6f011000000300100000030320f1831960', profile: 100, level: 32, chroma: 1, width: 1366, height: 768, fps: 25, poc: 0, reorder: 2 },
  { name: '1920x1080 interlaced (frame_mbs_only 0, crop unit 4)', hex: '67640028acd94078044fde0220000003002000000643e2c5b2c0', profile: 100, level: 40, chroma: 1, width: 1920, height: 1080, fps: 25, poc: 0, reorder: 2 },
  { name: '720x576 interlaced PAL', hex: '6764001eacd940b424d8088000000300800000190f8a14cb', profile: 100, level: 30, chroma: 1, width: 720, height: 576, fps: 25, poc: 0, reorder: 2 },
] as const;

const H265_SPS = [
  { name: '1920x1080 Main (conformance window)', hex: '420101016000000300900000030000030078a003c08010e596566924caf0168080000003008000000c84', width: 1920, height: 1080 },
  { name: '1280x720 Main', hex: '42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210', width: 1280, height: 720 },
  { name: '640x360 Main', hex: '42010101600000030090000003000003003fa00502016965959a4932bc05a02000000300200000030321', width: 640, height: 360 },
] as const;

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** Writes SPS fields bit by bit so tests can cover syntax x264 never emits (scaling lists, POC type 1). */
class BitWriter {
  private bits: number[] = [];
  u(n: number, value: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  ue(value: number): this {
    const code = value + 1;
    const len = Math.floor(Math.log2(code));
    return this.u(len, 0).u(len + 1, code);
  }
  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }
  /** rbsp_trailing_bits + emulation prevention, like a real encoder. */
  nal(header: number): Uint8Array {
    this.bits.push(1);
    while (this.bits.length % 8 !== 0) this.bits.push(0);
    const rbsp: number[] = [];
    for (let i = 0; i < this.bits.length; i += 8) rbsp.push(this.bits.slice(i, i + 8).reduce((a, b) => a * 2 + b, 0));
    const out = [header];
    let zeros = 0;
    for (const byte of rbsp) {
      if (zeros >= 2 && byte <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(byte);
      zeros = byte === 0 ? zeros + 1 : 0;
    }
    return new Uint8Array(out);
  }
}

function synthesizedSps(opts: { scaling: boolean; pocType: 0 | 1 | 2; chroma: number; crop: [number, number, number, number] }): Uint8Array {
  const w = new BitWriter().u(8, 100).u(8, 0).u(8, 40).ue(0);
  w.ue(opts.chroma);
  if (opts.chroma === 3) w.u(1, 0); // separate_colour_plane_flag
  w.ue(0).ue(0).u(1, 0); // bit depths, qpprime
  w.u(1, opts.scaling ? 1 : 0);
  if (opts.scaling) {
    const lists = opts.chroma === 3 ? 12 : 8;
    for (let i = 0; i < lists; i++) {
      const present = i === 0 || i === 3 || i === 6 || i === 7;
      w.u(1, present ? 1 : 0);
      if (!present) continue;
      if (i === 7) {
        w.se(-8); // nextScale 0 at j=0: "use the default matrix", nothing more is read
        continue;
      }
      const size = i < 6 ? 16 : 64;
      for (let j = 0; j < size; j++) w.se(j % 3 === 0 ? 1 : j % 3 === 1 ? -2 : 3);
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  w.ue(opts.pocType);
  if (opts.pocType === 0) w.ue(2);
  if (opts.pocType === 1) w.u(1, 0).se(-1).se(2).ue(3).se(1).se(-1).se(4);
  w.ue(1).u(1, 0); // max_num_ref_frames, gaps
  w.ue(1920 / 16 - 1).ue(1088 / 16 - 1);
  w.u(1, 1).u(1, 1); // frame_mbs_only, direct_8x8_inference
  const [l, r, t, b] = opts.crop;
  w.u(1, 1).ue(l).ue(r).ue(t).ue(b);
  w.u(1, 0); // no VUI
  return w.nal(0x67);
}

describe('H.264 SPS parser (real x264 SPS)', () => {
  for (const c of H264_SPS) {
    it(c.name, () => {
      const sps = parseH264Sps(bytes(c.hex));
      assert.deepEqual(sps, {
        codec: 'h264', profileIdc: c.profile, levelIdc: c.level, chromaFormatIdc: c.chroma, bitDepthLuma: 8, width: c.width, height: c.height, fps: c.fps,
        picOrderCntType: c.poc, maxNumReorderFrames: c.reorder,
      });
    });
  }
});

describe('H.264 SPS parser (synthesized syntax)', () => {
  const cases = [
    { name: 'scaling lists 4:2:0, POC type 0', opts: { scaling: true, pocType: 0, chroma: 1, crop: [0, 0, 0, 4] }, width: 1920, height: 1080 },
    { name: 'scaling lists 4:4:4 (12 lists), POC type 1', opts: { scaling: true, pocType: 1, chroma: 3, crop: [0, 0, 0, 8] }, width: 1920, height: 1080 },
    { name: 'no scaling lists, POC type 2, crop all sides', opts: { scaling: false, pocType: 2, chroma: 1, crop: [4, 4, 2, 2] }, width: 1904, height: 1080 },
    { name: '4:0:0 monochrome crop unit 1', opts: { scaling: false, pocType: 0, chroma: 0, crop: [0, 0, 0, 8] }, width: 1920, height: 1080 },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const sps = parseH264Sps(synthesizedSps({ ...c.opts, crop: [...c.opts.crop] }));
      assert.ok(sps, 'parsed');
      assert.equal(sps.width, c.width);
      assert.equal(sps.height, c.height);
      assert.equal(sps.chromaFormatIdc, c.opts.chroma);
      assert.equal(sps.fps, undefined, 'no VUI → no fps');
    });
  }
});

describe('H.264 SPS parser rejects garbage without throwing', () => {
  const cases = [
    { name: 'empty', data: new Uint8Array(0) },
    { name: 'PPS, not SPS', data: bytes('68ebe3cb22c0') },
    { name: 'truncated after level', data: bytes('67640028') },
    { name: 'truncated mid-size', data: bytes('67640028acd9') },
    { name: 'all ones', data: new Uint8Array(32).fill(0xff).map((v, i) => (i === 0 ? 0x67 : v)) },
    { name: 'all zeros after header', data: new Uint8Array(32).map((_v, i) => (i === 0 ? 0x67 : 0)) },
  ];
  for (const c of cases) it(c.name, () => assert.equal(parseH264Sps(c.data), undefined));
});

describe('H.265 SPS parser (real x265 SPS)', () => {
  for (const c of H265_SPS) {
    it(c.name, () => {
      const sps = parseH265Sps(bytes(c.hex));
      assert.ok(sps);
      assert.equal(sps.codec, 'h265');
      assert.equal(sps.width, c.width);
      assert.equal(sps.height, c.height);
      assert.equal(sps.profileIdc, 1);
      assert.equal(sps.chromaFormatIdc, 1);
    });
  }
  it('rejects an H.264 SPS', () => assert.equal(parseH265Sps(bytes(H264_SPS[0].hex)), undefined));
});

describe('bit reader', () => {
  it('exp-Golomb round trip', () => {
    const values = [0, 1, 2, 3, 7, 8, 255, 65_535, 1_000_000];
    const w = new BitWriter();
    for (const v of values) w.ue(v).se(v).se(-v);
    const r = new BitReader(nalToRbsp(w.nal(0x67).subarray(1)));
    for (const v of values) {
      assert.equal(r.ue(), v);
      assert.equal(r.se(), v);
      assert.equal(r.se(), v === 0 ? 0 : -v);
    }
  });
  it('removes emulation prevention bytes', () => {
    assert.deepEqual([...nalToRbsp(bytes('000003010000030000'))], [0, 0, 1, 0, 0, 0, 0]);
  });
  it('throws RangeError past the end', () => {
    const r = new BitReader(bytes('ff'));
    r.u(8);
    assert.throws(() => r.u(1), RangeError);
  });
});

const HIKVISION_SDP = [
  'v=0',
  'o=- 1109162014219182 1109162014219192 IN IP4 192.0.2.10',
  's=Media Presentation',
  'e=NONE',
  'b=AS:5050',
  't=0 0',
  'a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/?transportmode=unicast',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:5000',
  'a=recvonly',
  'a=x-dimensions:1920,1080',
  'a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/trackID=1?transportmode=unicast',
  'a=rtpmap:96 H264/90000',
  `a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=${b64(H264_SPS[1].hex)},aOvjyyLA`,
  'a=Media_header:MEDIAINFO=494D4B48010200000400000100000000000000000000000000000000000000000000000000000000;',
  'm=audio 0 RTP/AVP 8',
  'c=IN IP4 0.0.0.0',
  'b=AS:50',
  'a=recvonly',
  'a=rtpmap:8 PCMA/8000',
  '',
].join('\r\n');

describe('SDP → stream description', () => {
  const cases = [
    {
      name: 'Hikvision-style H.264 + PCMA, fmtp profile-level-id wins over SPS bytes',
      sdp: HIKVISION_SDP,
      video: { codec: 'h264', width: 1920, height: 1080, fps: 30, profileLevelId: '420029' },
      audio: { codec: 'pcm_alaw', sampleRate: 8000, channels: 1 },
    },
    {
      name: 'GStreamer-style H.264 without profile-level-id: derived from the SPS, a=framerate beats VUI',
      sdp: `v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=framerate:12.5\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=${b64(H264_SPS[3].hex)},aOvjyyLA\n`,
      video: { codec: 'h264', width: 640, height: 360, fps: 12.5, profileLevelId: '4d4016' },
    },
    {
      name: 'H.265 with sprop-sps and AAC audio',
      sdp: `v=0\r\nm=video 0 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\na=fmtp:98 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwB4lZgJ; sprop-sps=${b64(H265_SPS[0].hex)}; sprop-pps=RAHBcrRiQA==\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\n`,
      video: { codec: 'h265', width: 1920, height: 1080 },
      audio: { codec: 'aac', sampleRate: 16000, channels: 1 },
    },
    {
      name: 'static payload type 26 (MJPEG) with x-dimensions, stereo opus',
      sdp: 'v=0\nm=video 0 RTP/AVP 26\na=x-dimensions:640, 480\na=x-framerate:10\nm=audio 0 RTP/AVP 111\na=rtpmap:111 opus/48000/2\n',
      video: { codec: 'mjpeg', width: 640, height: 480, fps: 10 },
      audio: { codec: 'opus', sampleRate: 48000, channels: 2 },
    },
    {
      name: 'unparseable SPS: codec only, no size',
      sdp: 'v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 sprop-parameter-sets=!!!,AAAA\n',
      video: { codec: 'h264' },
    },
    { name: 'audio only', sdp: 'v=0\nm=audio 0 RTP/AVP 0\n', audio: { codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 } },
    { name: 'empty', sdp: '' },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const described = describeSdp(c.sdp);
      const video = described.video ? { ...described.video } : undefined;
      if (video) delete video.sps;
      assert.deepEqual(video, 'video' in c ? c.video : undefined);
      assert.deepEqual(described.audio, 'audio' in c ? c.audio : undefined);
    });
  }

  it('exposes the decoded SPS', () => {
    const { video } = describeSdp(HIKVISION_SDP);
    assert.equal(video?.sps?.profileIdc, 100);
    assert.equal(video?.sps?.chromaFormatIdc, 1);
  });

  it('parses media sections, rtpmap, fmtp and attributes', () => {
    const sdp = parseSdp(HIKVISION_SDP);
    assert.equal(sdp.sessionAttributes[0]?.name, 'control');
    assert.equal(sdp.media.length, 2);
    const [video] = sdp.media;
    assert.equal(video?.type, 'video');
    assert.deepEqual(video?.payloadTypes, [96]);
    assert.deepEqual(video?.rtpmap.get(96), { encoding: 'H264', clockRate: 90000 });
    assert.equal(video?.fmtp.get(96)?.get('packetization-mode'), '1');
    assert.ok(video?.attributes.some((a) => a.name === 'recvonly' && a.value === ''));
  });
});

describe('codec names', () => {
  const cases = [
    ['H264', 'h264'],
    ['h265', 'h265'],
    ['HEVC', 'h265'],
    ['JPEG', 'mjpeg'],
    ['MPEG4-GENERIC', 'aac'],
    ['PCMU', 'pcm_mulaw'],
    ['G726-32', 'g726-32'],
  ] as const;
  for (const [input, expected] of cases) it(`${input} → ${expected}`, () => assert.equal(codecName(input), expected));
});
