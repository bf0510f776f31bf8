import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as hapNodejs from '@homebridge/hap-nodejs';
import type { API } from 'homebridge';
import type { AudioConfig, CameraConfig, VideoConfig } from '../../src/config/config-types.js';
import { chooseAudio } from '../../src/hap/audio-choice.js';
import { once } from '../../src/hap/callback-once.js';
import { hapEnums } from '../../src/hap/hap-enums.js';
import type { AudioRequest, RawAudioInfo, RawVideoInfo } from '../../src/hap/hap-request-types.js';
import { keyAndSalt, mapAudio, mapVideo } from '../../src/hap/request-mapping.js';
import { streamingOptions, supportedResolutions } from '../../src/hap/streaming-options.js';
import { chooseVideoMode, type ModeInputs, type NegotiatedVideo } from '../../src/hap/video-mode.js';
import type { SpsInfo } from '../../src/health/sps.js';
import type { FeedStreamInfo } from '../../src/source/feed-stream-info.js';

/** HAP-NodeJS's real runtime enum values, read the way the plugin reads them from `api.hap`. */
const HAP = hapNodejs as unknown as API['hap'];
const enums = hapEnums(HAP);

const videoCaps = (overrides: Partial<VideoConfig> = {}): Pick<CameraConfig, 'video'> => ({
  video: { mode: 'auto', maxWidth: 1920, maxHeight: 1080, maxFps: 30, maxBitrate: 2000, encoder: 'libx264', copySender: 'node', ...overrides },
});

const rawVideo = (overrides: Partial<RawVideoInfo> = {}): RawVideoInfo => ({
  profile: enums.H264Profile.HIGH,
  level: enums.H264Level.LEVEL4_0,
  width: 1920,
  height: 1080,
  fps: 30,
  pt: 99,
  max_bit_rate: 299,
  rtcp_interval: 0.5,
  mtu: 1378,
  ...overrides,
});

const rawAudio = (overrides: Partial<RawAudioInfo> = {}): RawAudioInfo => ({
  codec: enums.AudioStreamingCodecType.OPUS,
  channel: 1,
  bit_rate: 0,
  sample_rate: enums.AudioStreamingSamplerate.KHZ_24,
  packet_time: 20,
  pt: 110,
  max_bit_rate: 24,
  ...overrides,
});

describe('real HAP enum values', () => {
  it('are the ones the plugin expects to read', () => {
    assert.equal(enums.H264Profile.BASELINE, 0);
    assert.equal(enums.H264Level.LEVEL4_0, 2);
    assert.equal(enums.AudioStreamingCodecType.OPUS, 'OPUS');
    assert.equal(enums.AudioStreamingCodecType.AAC_ELD, 'AAC-eld');
    assert.equal(enums.AudioStreamingSamplerate.KHZ_16, 16);
    assert.equal(enums.StreamRequestTypes.START, 'start');
    assert.equal(enums.SRTPCryptoSuites.AES_CM_128_HMAC_SHA1_80, 0);
  });
});

describe('chooseVideoMode', () => {
  const h264 = (o: Partial<SpsInfo> = {}): FeedStreamInfo => ({
    videoCodec: 'h264', videoStreamType: 0x1b, slicesChecked: 4, bSlicesSeen: false,
    sps: { codec: 'h264', profileIdc: 100, levelIdc: 40, chromaFormatIdc: 1, bitDepthLuma: 8, width: 1280, height: 720, picOrderCntType: 2, ...o },
  });
  const hevc: FeedStreamInfo = {
    videoCodec: 'h265', videoStreamType: 0x24, slicesChecked: 0, bSlicesSeen: false,
    sps: { codec: 'h265', profileIdc: 1, levelIdc: 93, chromaFormatIdc: 1, bitDepthLuma: 8, width: 2560, height: 1440 },
  };
  const req = (o: Partial<NegotiatedVideo> = {}): NegotiatedVideo => ({ width: 1920, height: 1080, profile: 'high', level: '4.0', ...o });
  type Case = { name: string; inputs: Partial<ModeInputs>; mode: 'copy' | 'transcode'; why: RegExp };
  const cases: Case[] = [
    { name: 'copy forces copy, even for H.265, and says what it means', inputs: { configured: 'copy', feed: hevc, copyFailedBefore: true }, mode: 'copy', why: /video\.mode is copy \(the feed is H\.265/ },
    { name: 'copy forces copy for B-frames', inputs: { configured: 'copy', feed: h264({ maxNumReorderFrames: 2 }) }, mode: 'copy', why: /^video\.mode is copy$/ },
    { name: 'transcode forces transcode', inputs: { configured: 'transcode', feed: h264() }, mode: 'transcode', why: /video\.mode is transcode/ },
    { name: 'copy that failed before', inputs: { feed: h264(), copyFailedBefore: true }, mode: 'transcode', why: /copy gave no frames/ },
    { name: 'H.265 feed without any probe (first START after a restart)', inputs: { feed: hevc, probe: undefined }, mode: 'transcode', why: /feed is H\.265 \(PMT stream type 0x24\)/ },
    { name: 'H.265 feed beats a probe that said H.264', inputs: { feed: hevc, probe: { codec: 'h264', profileIdc: 100 } }, mode: 'transcode', why: /feed is H\.265/ },
    { name: 'H.264 feed beats a probe that said H.265', inputs: { feed: h264(), probe: { codec: 'h265' } }, mode: 'copy', why: /feed is H\.264 High 4\.0 1280x720/ },
    { name: 'MPEG-2 feed', inputs: { feed: { videoCodec: 'other', videoStreamType: 0x02, slicesChecked: 0, bSlicesSeen: false } }, mode: 'transcode', why: /not H\.264 \(PMT stream type 0x02\)/ },
    { name: 'B-frames from the SPS', inputs: { feed: h264({ picOrderCntType: 0, maxNumReorderFrames: 2 }), request: req() }, mode: 'transcode', why: /B-frames \(SPS max_num_reorder_frames 2\)/ },
    { name: 'B-frames from slice headers when the SPS is silent', inputs: { feed: { ...h264({ picOrderCntType: 0 }), bSlicesSeen: true } }, mode: 'transcode', why: /B slices in the feed/ },
    { name: 'reorder 0 in the SPS', inputs: { feed: h264({ picOrderCntType: 0, maxNumReorderFrames: 0 }), request: req() }, mode: 'copy', why: /without B-frames/ },
    { name: 'High 4:4:4 profile', inputs: { feed: h264({ profileIdc: 244 }) }, mode: 'transcode', why: /profile 244/ },
    { name: 'Extended profile from the probe only', inputs: { feed: undefined, probe: { codec: 'h264', profileIdc: 88 } }, mode: 'transcode', why: /profile 88/ },
    { name: 'feed larger than the request', inputs: { feed: h264({ width: 1920, height: 1080 }), request: req({ width: 1280, height: 720 }) }, mode: 'transcode', why: /1920x1080, larger than the 1280x720/ },
    { name: 'larger than asked but chosen among substreams: copied', inputs: { feed: h264({ width: 640, height: 360 }), request: req({ width: 320, height: 240 }), sizeChosen: true }, mode: 'copy', why: /640x360 without B-frames/ },
    { name: 'feed smaller than the request', inputs: { feed: h264({ width: 640, height: 360, levelIdc: 30 }), request: req() }, mode: 'copy', why: /640x360/ },
    { name: 'High feed, Main requested', inputs: { feed: h264(), request: req({ profile: 'main' }) }, mode: 'transcode', why: /High, HomeKit asked for main/ },
    { name: 'Baseline feed, Main requested', inputs: { feed: h264({ profileIdc: 66, levelIdc: 31 }), request: req({ profile: 'main', level: '3.1' }) }, mode: 'copy', why: /Baseline 3\.1/ },
    { name: 'level above the request', inputs: { feed: h264({ levelIdc: 41 }), request: req({ level: '4.0' }) }, mode: 'transcode', why: /level 4\.1, above the 4\.0/ },
    { name: 'level equal to the request', inputs: { feed: h264({ levelIdc: 32 }), request: req({ level: '3.2' }) }, mode: 'copy', why: /3\.2/ },
    { name: 'probe says H.265, feed codec unknown', inputs: { feed: undefined, probe: { codec: 'hevc' } }, mode: 'transcode', why: /announces H\.265 \(probe/ },
    { name: 'probe says mjpeg, feed codec unknown', inputs: { feed: undefined, probe: { codec: 'mjpeg' } }, mode: 'transcode', why: /announces mjpeg/ },
    { name: 'PMT seen, SPS not yet', inputs: { feed: { videoCodec: 'h264', slicesChecked: 0, bSlicesSeen: false } }, mode: 'copy', why: /feed sends H\.264 \(no SPS seen yet\)/ },
    { name: 'nothing known', inputs: {}, mode: 'copy', why: /assumed H\.264/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = chooseVideoMode({ configured: 'auto', feed: undefined, probe: undefined, copyFailedBefore: false, ...c.inputs });
      assert.equal(d.mode, c.mode);
      assert.match(d.why, c.why);
    });
  }
});

describe('chooseAudio', () => {
  const opus: AudioRequest = { codec: 'opus', sampleRateKhz: 24, bitrateKbps: 24, channels: 1, packetTimeMs: 20, payloadType: 110 };
  const eld: AudioRequest = { ...opus, codec: 'aac-eld', sampleRateKhz: 16, packetTimeMs: 30 };
  const cfg = (enabled: boolean, codec: AudioConfig['codec'] = 'auto'): AudioConfig => ({ enabled, codec });
  const all = new Set(['libx264', 'libopus', 'libfdk_aac']);
  const noOpus = new Set(['libx264', 'libfdk_aac']);
  const noFdk = new Set(['libx264', 'libopus']);
  const cases: Array<{ name: string; config: AudioConfig; req: AudioRequest | undefined; enc: Set<string>; feed: boolean; want: AudioRequest | RegExp | undefined }> = [
    { name: 'disabled', config: cfg(false), req: opus, enc: all, feed: true, want: undefined },
    { name: 'disabled, nothing asked', config: cfg(false), req: undefined, enc: all, feed: true, want: undefined },
    { name: 'viewer asked no audio', config: cfg(true), req: undefined, enc: all, feed: true, want: /asked for no audio/ },
    { name: 'opus without libopus', config: cfg(true), req: opus, enc: noOpus, feed: true, want: /no libopus/ },
    { name: 'aac-eld without libfdk_aac', config: cfg(true), req: eld, enc: noFdk, feed: true, want: /libfdk_aac/ },
    { name: 'feed without audio', config: cfg(true), req: opus, enc: all, feed: false, want: /no audio track/ },
    { name: 'codec mismatch (config opus, asked aac-eld)', config: cfg(true, 'opus'), req: eld, enc: all, feed: true, want: /asked for aac-eld but audio\.codec is opus/ },
    { name: 'codec mismatch (config aac-eld, asked opus)', config: cfg(true, 'aac-eld'), req: opus, enc: all, feed: true, want: /asked for opus but audio\.codec is aac-eld/ },
    { name: 'auto + opus', config: cfg(true), req: opus, enc: noFdk, feed: true, want: opus },
    { name: 'auto + aac-eld', config: cfg(true), req: eld, enc: noOpus, feed: true, want: eld },
    { name: 'explicit opus', config: cfg(true, 'opus'), req: opus, enc: all, feed: true, want: opus },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = chooseAudio(c.config, c.req, c.enc, c.feed);
      if (c.want instanceof RegExp) {
        assert.ok(got && 'skip' in got, `expected a skip, got ${JSON.stringify(got)}`);
        assert.match(got.skip, c.want);
      } else {
        assert.deepEqual(got, c.want);
      }
    });
  }
});

describe('mapVideo', () => {
  const accepted: Array<{ name: string; caps?: Partial<VideoConfig>; raw?: Partial<RawVideoInfo>; want: Partial<ReturnType<typeof okVideo>> }> = [
    { name: 'within caps: passed through', raw: { width: 1280, height: 720, fps: 30 }, want: { width: 1280, height: 720, fps: 30, bitrateKbps: 299 } },
    { name: 'scaled to maxWidth/maxHeight keeping 16:9', caps: { maxWidth: 1280, maxHeight: 720 }, want: { width: 1280, height: 720 } },
    { name: 'height is the tighter cap', caps: { maxWidth: 1920, maxHeight: 480 }, want: { width: 854, height: 480 } },
    { name: 'width is the tighter cap, 4:3', caps: { maxWidth: 640, maxHeight: 1080 }, raw: { width: 1280, height: 960 }, want: { width: 640, height: 480 } },
    { name: 'odd caps never exceeded', caps: { maxWidth: 1281, maxHeight: 721 }, want: { width: 1280, height: 720 } },
    { name: 'odd height cap', caps: { maxWidth: 1920, maxHeight: 721 }, want: { width: 1282, height: 720 } },
    { name: 'odd width cap', caps: { maxWidth: 641, maxHeight: 2160 }, want: { width: 640, height: 360 } },
    { name: 'odd request rounded to even', raw: { width: 641, height: 361 }, want: { width: 642, height: 362 } },
    { name: 'fps capped', caps: { maxFps: 15 }, want: { fps: 15 } },
    { name: 'fractional fps rounded', raw: { fps: 29.97 }, want: { fps: 30 } },
    { name: 'bitrate capped', caps: { maxBitrate: 150 }, want: { bitrateKbps: 150 } },
    { name: 'missing bitrate → cap', raw: { max_bit_rate: 0 }, want: { bitrateKbps: 2000 } },
    { name: 'NaN bitrate → cap', raw: { max_bit_rate: Number.NaN }, caps: { maxBitrate: 800 }, want: { bitrateKbps: 800 } },
    { name: 'MTU 0 → 1378', raw: { mtu: 0 }, want: { mtu: 1378 } },
    { name: 'MTU 1228 kept', raw: { mtu: 1228 }, want: { mtu: 1228 } },
    { name: 'bad RTCP interval → 0.5', raw: { rtcp_interval: 0 }, want: { rtcpIntervalS: 0.5 } },
    { name: 'RTCP interval kept', raw: { rtcp_interval: 2 }, want: { rtcpIntervalS: 2 } },
    { name: 'baseline 3.1', raw: { profile: enums.H264Profile.BASELINE, level: enums.H264Level.LEVEL3_1 }, want: { profile: 'baseline', level: '3.1' } },
    { name: 'main 3.2', raw: { profile: enums.H264Profile.MAIN, level: enums.H264Level.LEVEL3_2 }, want: { profile: 'main', level: '3.2' } },
    { name: 'high 4.0', raw: { profile: enums.H264Profile.HIGH, level: enums.H264Level.LEVEL4_0 }, want: { profile: 'high', level: '4.0' } },
    { name: 'unknown profile/level → main 4.0', raw: { profile: 7, level: 9 }, want: { profile: 'main', level: '4.0' } },
    { name: 'payload type kept', raw: { pt: 0 }, want: { payloadType: 0 } },
  ];
  function okVideo(caps: Partial<VideoConfig>, raw: Partial<RawVideoInfo>) {
    const mapped = mapVideo(enums, videoCaps(caps), rawVideo(raw));
    assert.ok(mapped.ok, mapped.ok ? '' : mapped.error);
    return mapped.value;
  }
  for (const c of accepted) {
    it(c.name, () => {
      const value = okVideo(c.caps ?? {}, c.raw ?? {});
      for (const [key, want] of Object.entries(c.want)) assert.equal(value[key as keyof typeof value], want, key);
    });
  }

  const rejected: Array<{ raw: Partial<RawVideoInfo>; error: RegExp }> = [
    { raw: { width: 0 }, error: /resolution 0x1080 is out of range/ },
    { raw: { width: 15 }, error: /resolution/ },
    { raw: { width: 7681 }, error: /resolution/ },
    { raw: { height: 4321 }, error: /resolution 1920x4321/ },
    { raw: { width: 1280.5 }, error: /resolution 1280\.5x1080/ },
    { raw: { width: Number.NaN }, error: /resolution NaN/ },
    { raw: { height: Number.POSITIVE_INFINITY }, error: /resolution 1920xInfinity/ },
    { raw: { width: '1280' as unknown as number }, error: /resolution/ },
    { raw: { fps: 0 }, error: /frame rate 0 is out of range/ },
    { raw: { fps: 121 }, error: /frame rate/ },
    { raw: { fps: Number.NaN }, error: /frame rate NaN/ },
    { raw: { pt: -1 }, error: /payload type -1/ },
    { raw: { pt: 128 }, error: /payload type 128/ },
    { raw: { pt: 99.5 }, error: /payload type/ },
    { raw: { mtu: -1 }, error: /MTU -1/ },
    { raw: { mtu: 65_508 }, error: /MTU/ },
    { raw: { mtu: Number.NaN }, error: /MTU NaN/ },
  ];
  for (const c of rejected) {
    it(`rejects ${JSON.stringify(c.raw, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      const mapped = mapVideo(enums, videoCaps(), rawVideo(c.raw));
      assert.equal(mapped.ok, false);
      assert.match(mapped.ok ? '' : mapped.error, c.error);
    });
  }

  it('property: 2000 random valid requests never exceed the caps and stay even', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
    for (let i = 0; i < 2000; i++) {
      const caps = { maxWidth: between(320, 3840), maxHeight: between(240, 2160), maxFps: between(1, 60), maxBitrate: between(100, 20000) };
      const raw = { width: between(16, 7680), height: between(16, 4320), fps: between(1, 120), max_bit_rate: between(1, 100_000) };
      const mapped = mapVideo(enums, videoCaps(caps), rawVideo(raw));
      assert.ok(mapped.ok);
      const v = mapped.value;
      const ctx = `${JSON.stringify(caps)} ${JSON.stringify(raw)} → ${v.width}x${v.height}`;
      assert.ok(v.width <= caps.maxWidth && v.height <= caps.maxHeight, ctx);
      assert.ok(v.width % 2 === 0 && v.height % 2 === 0 && v.width >= 2 && v.height >= 2, ctx);
      assert.ok(v.width <= raw.width + 1 && v.height <= raw.height + 1, `never upscaled: ${ctx}`);
      if (v.width >= 64 && v.height >= 64) {
        const drift = Math.abs(v.width / v.height - raw.width / raw.height) / (raw.width / raw.height);
        assert.ok(drift < 0.05, `aspect kept: ${ctx}`);
      }
      assert.equal(v.fps, Math.min(raw.fps, caps.maxFps));
      assert.equal(v.bitrateKbps, Math.min(raw.max_bit_rate, caps.maxBitrate));
    }
  });
});

describe('mapAudio', () => {
  it('no audio requested → ok, undefined', () => assert.deepEqual(mapAudio(enums, undefined), { ok: true, value: undefined }));

  const cases: Array<{ name: string; raw: Partial<RawAudioInfo>; want: Partial<AudioRequest> | undefined | RegExp }> = [
    { name: 'opus 24 kHz', raw: {}, want: { codec: 'opus', sampleRateKhz: 24, bitrateKbps: 24, channels: 1, packetTimeMs: 20, payloadType: 110 } },
    { name: 'AAC-ELD 16 kHz 30 ms', raw: { codec: enums.AudioStreamingCodecType.AAC_ELD, sample_rate: 16, packet_time: 30 }, want: { codec: 'aac-eld', sampleRateKhz: 16, packetTimeMs: 30 } },
    { name: 'PCMU is not offered → no audio', raw: { codec: 'PCMU' }, want: undefined },
    { name: 'lowercase opus is not the enum value', raw: { codec: 'opus' }, want: undefined },
    { name: 'odd sample rate → 16', raw: { sample_rate: 48 }, want: { sampleRateKhz: 16 } },
    { name: '8 kHz kept', raw: { sample_rate: 8 }, want: { sampleRateKhz: 8 } },
    { name: 'bitrate out of range → 24', raw: { max_bit_rate: 1000 }, want: { bitrateKbps: 24 } },
    { name: 'bitrate 64 kept', raw: { max_bit_rate: 64 }, want: { bitrateKbps: 64 } },
    { name: 'channels 2 kept', raw: { channel: 2 }, want: { channels: 2 } },
    { name: 'channels 6 → 1', raw: { channel: 6 }, want: { channels: 1 } },
    { name: 'packet time 60 kept', raw: { packet_time: 60 }, want: { packetTimeMs: 60 } },
    { name: 'packet time 25 → 20', raw: { packet_time: 25 }, want: { packetTimeMs: 20 } },
    { name: 'payload type 128 refused', raw: { pt: 128 }, want: /audio payload type 128 is out of range/ },
    { name: 'payload type NaN refused', raw: { pt: Number.NaN }, want: /audio payload type NaN/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const mapped = mapAudio(enums, rawAudio(c.raw));
      if (c.want instanceof RegExp) {
        assert.equal(mapped.ok, false);
        assert.match(mapped.ok ? '' : mapped.error, c.want);
        return;
      }
      assert.ok(mapped.ok);
      if (c.want === undefined) {
        assert.equal(mapped.value, undefined);
        return;
      }
      for (const [key, want] of Object.entries(c.want)) assert.equal(mapped.value?.[key as keyof AudioRequest], want, key);
    });
  }
});

describe('keyAndSalt', () => {
  const key = Buffer.alloc(16, 0xaa);
  const salt = Buffer.alloc(14, 0x55);
  it('16-byte key + 14-byte salt → 30 bytes, key first', () => {
    const out = keyAndSalt(key, salt);
    assert.equal(out?.length, 30);
    assert.deepEqual(out, Buffer.concat([key, salt]));
  });
  const bad: Array<[string, unknown, unknown]> = [
    ['short key', Buffer.alloc(15), salt],
    ['long key', Buffer.alloc(32), salt],
    ['short salt', key, Buffer.alloc(13)],
    ['long salt', key, Buffer.alloc(16)],
    ['strings', 'a'.repeat(16), 'b'.repeat(14)],
    ['undefined', undefined, undefined],
    ['Uint8Array', new Uint8Array(16), new Uint8Array(14)],
  ];
  for (const [name, k, s] of bad) {
    it(`refuses ${name}`, () => assert.equal(keyAndSalt(k, s), undefined));
  }
});

describe('once', () => {
  it('calls through exactly once with the first arguments, reporting later calls', () => {
    const calls: unknown[][] = [];
    let seconds = 0;
    const cb = once((error?: Error, value?: number) => calls.push([error, value]), () => seconds++);
    cb(undefined, 1);
    cb(new Error('late'), 2);
    cb();
    assert.deepEqual(calls, [[undefined, 1]]);
    assert.equal(seconds, 2);
  });

  it('without a reporter, later calls are silently ignored', () => {
    let n = 0;
    const cb = once(() => n++);
    cb();
    assert.doesNotThrow(() => cb());
    assert.equal(n, 1);
  });

  it('a callback that throws still counts as answered', () => {
    let seconds = 0;
    const cb = once(() => { throw new Error('boom'); }, () => seconds++);
    assert.throws(() => cb(), /boom/);
    cb();
    assert.equal(seconds, 1);
  });
});

describe('supportedResolutions', () => {
  const key = (r: readonly number[]): string => r.join('x');
  const cases: Array<{ caps: Partial<VideoConfig>; includes: string[]; excludes: string[] }> = [
    { caps: {}, includes: ['1920x1080x30', '1280x720x30', '320x240x15', '320x180x30'], excludes: [] },
    { caps: { maxWidth: 1280, maxHeight: 720 }, includes: ['1280x720x30', '320x240x15'], excludes: ['1920x1080x30', '1280x960x30', '1024x768x30'] },
    { caps: { maxWidth: 640, maxHeight: 360 }, includes: ['640x360x30', '480x360x30', '480x270x30', '320x240x15'], excludes: ['640x480x30', '1280x720x30'] },
    { caps: { maxWidth: 320, maxHeight: 240 }, includes: ['320x240x30', '320x240x15', '320x180x30'], excludes: ['480x270x30'] },
    { caps: { maxFps: 15 }, includes: ['1920x1080x15', '320x240x15'], excludes: ['1920x1080x30', '320x240x30'] },
    { caps: { maxFps: 10 }, includes: ['1920x1080x10', '320x240x10', '320x240x15'], excludes: ['1280x720x30'] },
    { caps: { maxFps: 60 }, includes: ['1920x1080x30'], excludes: ['1920x1080x60'] },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.caps), () => {
      const caps = videoCaps(c.caps).video;
      const list = supportedResolutions({ video: caps });
      const keys = list.map(key);
      for (const k of c.includes) assert.ok(keys.includes(k), `${k} in ${keys.join(' ')}`);
      for (const k of c.excludes) assert.ok(!keys.includes(k), `${k} not in ${keys.join(' ')}`);
      assert.ok(keys.includes('320x240x15'), 'Apple Watch size always offered');
      assert.equal(new Set(keys).size, keys.length, `no duplicates: ${keys.join(' ')}`);
      for (const [w, h, fps] of list) {
        if (key([w, h, fps]) === '320x240x15') continue;
        assert.ok(w <= caps.maxWidth && h <= caps.maxHeight && fps <= caps.maxFps, key([w, h, fps]));
      }
    });
  }

  it('returns a fresh array each time', () => {
    const a = supportedResolutions(videoCaps());
    a.length = 0;
    assert.ok(supportedResolutions(videoCaps()).length > 0);
  });
});

describe('streamingOptions (real HAP values)', () => {
  const camera = (codec: AudioConfig['codec']): CameraConfig => ({
    id: 'c', name: 'C', source: 'rtsp://h/x', substreams: [], rtspTransport: 'tcp', unbridge: true, maxStreams: 4, prebuffer: false,
    video: videoCaps().video, audio: { enabled: true, codec }, motion: false, motionTimeoutSeconds: 30, doorbell: false, doorbellMinIntervalSeconds: 5, recording: false,
  });
  const cases: Array<{ codec: AudioConfig['codec']; encoders: string[]; types: string[] }> = [
    { codec: 'auto', encoders: ['libopus'], types: ['OPUS'] },
    { codec: 'auto', encoders: ['libopus', 'libfdk_aac'], types: ['AAC-eld', 'OPUS'] },
    { codec: 'opus', encoders: ['libopus', 'libfdk_aac'], types: ['OPUS'] },
    { codec: 'aac-eld', encoders: ['libopus', 'libfdk_aac'], types: ['AAC-eld'] },
    { codec: 'aac-eld', encoders: ['libopus'], types: ['OPUS'] },
  ];
  for (const c of cases) {
    it(`audio.codec ${c.codec} with ${c.encoders.join('+')} → ${c.types.join(', ')}`, () => {
      const options = streamingOptions(HAP, camera(c.codec), new Set(c.encoders)) as unknown as {
        supportedCryptoSuites: number[];
        video: { resolutions: number[][]; codec: { profiles: number[]; levels: number[] } };
        audio: { codecs: Array<{ type: string }> };
      };
      assert.deepEqual(options.audio.codecs.map((x) => x.type), c.types);
      assert.deepEqual(options.supportedCryptoSuites, [enums.SRTPCryptoSuites.AES_CM_128_HMAC_SHA1_80]);
      assert.deepEqual(options.video.codec.profiles, [0, 1, 2]);
      assert.deepEqual(options.video.resolutions, supportedResolutions(camera(c.codec)));
    });
  }
});
