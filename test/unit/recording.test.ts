/**
 * HomeKit Secure Video pure parts: the copy/transcode decision, recording argv, the fMP4 segmenter
 * on real FFmpeg output, the prebuffer ring, health state, and the test hub's HDS codec and
 * selected-configuration TLV checked against HAP-NodeJS's own parser (the oracle).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { API, CameraRecordingConfiguration } from 'homebridge';
import { DataStreamParser, DataStreamReader, DataStreamWriter, Int32, Int64 } from '@homebridge/hap-nodejs';
import type { CameraConfig } from '../../src/config/config-types.js';
import { recordingArgs, RECORDING_MOVFLAGS } from '../../src/ffmpeg/args/recording-args.js';
import { Fmp4Error, Fmp4Segmenter } from '../../src/recording/fmp4-segmenter.js';
import { RecordingDelegate } from '../../src/recording/recording-delegate.js';
import { chooseRecordingMode, type RecordingModeInput } from '../../src/recording/recording-mode.js';
import { initialRecordingState, reduceRecordingState } from '../../src/recording/recording-state.js';
import { MpegTsIndexer, TS_PACKET } from '../../src/source/mpegts-indexer.js';
import { PrebufferRing } from '../../src/source/prebuffer-ring.js';
import type { SharedSource } from '../../src/source/shared-source.js';
import { boxes } from '../helpers/fmp4.js';
import { decodeHds, encodeHds, HdsInt64 } from '../helpers/hds-codec.js';
import { encodeSelectedConfig, REAL_HUB_SELECTION, REAL_HUB_SELECTION_B64 } from '../helpers/hds-hub.js';

describe('chooseRecordingMode', () => {
  const base: RecordingModeInput = {
    configured: 'auto',
    camera: { codec: 'h264', profileIdc: 77, levelIdc: 31, width: 640, height: 360, gopMs: 2000 },
    selected: { width: 640, height: 360, profile: 1, level: 2, fragmentMs: 4000 },
  };
  const cases: Array<{ name: string; patch: (i: RecordingModeInput) => RecordingModeInput; mode: 'copy' | 'transcode'; why?: RegExp }> = [
    { name: 'fitting H.264 is copied', patch: (i) => i, mode: 'copy' },
    { name: 'video.mode transcode', patch: (i) => ({ ...i, configured: 'transcode' }), mode: 'transcode', why: /video.mode/ },
    { name: 'H.265 camera', patch: (i) => ({ ...i, camera: { ...i.camera, codec: 'hevc' } }), mode: 'transcode', why: /hevc/ },
    { name: 'GOP not measured yet', patch: (i) => ({ ...i, camera: { ...i.camera, gopMs: undefined } }), mode: 'transcode', why: /not measured/ },
    { name: 'GOP longer than a fragment', patch: (i) => ({ ...i, camera: { ...i.camera, gopMs: 6000 } }), mode: 'transcode', why: /longer/ },
    { name: 'GOP jitter within 200 ms', patch: (i) => ({ ...i, camera: { ...i.camera, gopMs: 4150 } }), mode: 'copy' },
    { name: 'High camera, Main selected', patch: (i) => ({ ...i, camera: { ...i.camera, profileIdc: 100 } }), mode: 'transcode', why: /profile/ },
    { name: 'unknown profile', patch: (i) => ({ ...i, camera: { ...i.camera, profileIdc: 244 } }), mode: 'transcode', why: /profile/ },
    { name: 'level above the selection', patch: (i) => ({ ...i, camera: { ...i.camera, levelIdc: 41 } }), mode: 'transcode', why: /level/ },
    { name: 'other size in auto', patch: (i) => ({ ...i, selected: { ...i.selected, width: 1920, height: 1080 } }), mode: 'transcode', why: /1920x1080/ },
    { name: 'other size in copy mode is kept', patch: (i) => ({ ...i, configured: 'copy', selected: { ...i.selected, width: 1920, height: 1080 } }), mode: 'copy' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = chooseRecordingMode(c.patch(base));
      assert.equal(d.mode, c.mode, d.why);
      if (c.why) assert.match(d.why, c.why);
    });
  }
});

describe('recordingArgs', () => {
  const input = ['-f', 'mpegts', '-i', 'pipe:0'];
  it('copy without audio: fragmented MP4 to stdout, no audio track', () => {
    const args = recordingArgs({ input, video: { mode: 'copy' } });
    assert.ok(args.includes('-an'));
    assert.deepEqual(args.slice(args.indexOf('-c:v'), args.indexOf('-c:v') + 2), ['-c:v', 'copy']);
    assert.equal(args[args.indexOf('-movflags') + 1], RECORDING_MOVFLAGS);
    assert.equal(args.at(-1), 'pipe:1');
  });
  it('transcode with audio: keyframe at every fragment boundary, no B-frames, AAC-LC at the selected rate', () => {
    const args = recordingArgs({
      input,
      video: { mode: 'transcode', encoder: 'libx264', width: 1280, height: 720, fps: 24, bitrateKbps: 2000, profile: 'main', level: '4.0', keyframeIntervalMs: 4000 },
      audio: { sampleRateHz: 32000, channels: 1, bitrateKbps: 64 },
    });
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(after('-force_key_frames'), 'expr:gte(t,n_forced*4)');
    assert.equal(after('-bf'), '0');
    assert.equal(after('-sc_threshold'), '0');
    assert.equal(after('-profile:v'), 'main');
    assert.equal(after('-b:v'), '2000k');
    assert.equal(after('-c:a'), 'aac');
    assert.equal(after('-profile:a'), 'aac_low');
    assert.equal(after('-ar'), '32000');
    assert.ok(!args.includes('-an'));
    assert.ok(args.every((a) => typeof a === 'string'));
  });
  const video = { mode: 'transcode', encoder: 'libx264', width: 1200, height: 1600, fps: 24, bitrateKbps: 2000, profile: 'main', level: '4.0', keyframeIntervalMs: 4000 } as const;
  for (const [legacyScale, scale] of [
    [false, 'scale=1200:1600:force_original_aspect_ratio=decrease:force_divisible_by=2,pad='],
    [true, 'scale=1200:1600:force_original_aspect_ratio=decrease,scale=trunc(iw/2)*2:trunc(ih/2)*2,pad='],
  ] as const) {
    it(`scales to even sides the way ${legacyScale ? 'FFmpeg < 4.3' : 'FFmpeg 4.3+'} can`, () => {
      const args = recordingArgs({ input, video: { ...video, legacyScale } });
      assert.ok(args[args.indexOf('-vf') + 1]?.startsWith(scale), args[args.indexOf('-vf') + 1]);
    });
  }
});

/** Real fragmented MP4 from FFmpeg with the recording's movflags: 1 s GOPs, with audio. */
function ffmpegFmp4(): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-f', 'lavfi', '-i', 'sine=sample_rate=32000',
    '-t', '3', '-c:v', 'libx264', '-g', '10', '-bf', '0', '-c:a', 'aac', '-f', 'mp4', '-movflags', RECORDING_MOVFLAGS, '-',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

describe('Fmp4Segmenter', () => {
  const mp4 = ffmpegFmp4();
  const check = (packets: ReturnType<Fmp4Segmenter['push']>): void => {
    const [init, ...fragments] = packets;
    assert.equal(init?.kind, 'init');
    assert.deepEqual(boxes(init.data).map((b) => b.type), ['ftyp', 'moov']);
    assert.ok(fragments.length >= 3, `${fragments.length} fragments`);
    for (const f of fragments) {
      assert.equal(f.kind, 'fragment');
      assert.deepEqual(boxes(f.data).map((b) => b.type), ['moof', 'mdat']);
    }
    assert.equal(Buffer.concat(packets.map((p) => p.data)).length, mp4.length, 'nothing lost or duplicated');
  };
  it('cuts one buffer into init + moof/mdat fragments', () => check(new Fmp4Segmenter().push(mp4)));
  it('gives the same cut when fed in odd-sized pieces', () => {
    const s = new Fmp4Segmenter();
    const out = [];
    for (let at = 0; at < mp4.length; at += 997) out.push(...s.push(mp4.subarray(at, at + 997)));
    check(out);
  });
  it('rejects a corrupt box length instead of buffering forever', () => {
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(3, 0);
    bad.write('moof', 4, 'latin1');
    assert.throws(() => new Fmp4Segmenter().push(bad), Fmp4Error);
  });
});

describe('PrebufferRing', () => {
  const ts = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '10',
    '-c:v', 'libx264', '-g', '10', '-bf', '0', '-f', 'mpegts', '-',
  ], { maxBuffer: 64 * 1024 * 1024 });
  /** Feed the 10 s clip as if live: 100 ms per frame, one chunk per 1/10 of the bytes. */
  function fill(ring: PrebufferRing): number {
    const indexer = new MpegTsIndexer();
    const parts = 100;
    const step = Math.ceil(ts.length / parts / TS_PACKET) * TS_PACKET;
    let now = 0;
    for (let at = 0; at < ts.length; at += step, now += 100) ring.add(indexer.push(ts.subarray(at, at + step)), now);
    return now;
  }
  it('keeps whole GOPs back to the keyframe at or before now - keepMs', () => {
    const ring = new PrebufferRing(4000);
    const now = fill(ring);
    const span = ring.spanMs(now);
    assert.ok(span >= 4000 && span <= 5200, `span ${span} ms`);
    const gop = ring.gopMs();
    assert.ok(gop !== undefined && gop >= 800 && gop <= 1200, `gop ${gop} ms`);
    const from = ring.from(4000, now);
    assert.ok(from);
    assert.ok(Math.abs(now - from.keyframeAt - 4000) <= 600, `starts within half a GOP of 4 s ago (${now - from.keyframeAt} ms)`);
    // Decodable on its own: PAT/PMT first, then a keyframe.
    const frames = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', '-i', 'pipe:0'], { input: from.data }).toString().trim().split('\n')[0];
    assert.ok(Number(frames) >= 40, `${frames} frames decodable from the prebuffer`);
  });
  it('is bounded by bytes, keeping at least the newest GOP', () => {
    const ring = new PrebufferRing(60_000, 20_000);
    const now = fill(ring);
    assert.ok(ring.spanMs(now) < 3000, `span ${ring.spanMs(now)} ms under a 20 kB bound`);
    assert.ok(ring.from(60_000, now));
  });
  it('is empty after clear', () => {
    const ring = new PrebufferRing(4000);
    fill(ring);
    ring.clear();
    assert.equal(ring.from(4000, 10_000), undefined);
  });
});

describe('recording state', () => {
  it('counts clips per local day and keeps the last close reason', () => {
    const day1 = new Date(2026, 0, 1, 23, 0).getTime();
    const day2 = new Date(2026, 0, 2, 0, 30).getTime();
    let s = initialRecordingState(day1);
    s = reduceRecordingState(s, { type: 'armed', armed: true }, day1);
    s = reduceRecordingState(s, { type: 'started', mode: 'copy' }, day1);
    assert.deepEqual({ armed: s.armed, recording: s.recording, clipsToday: s.clipsToday, mode: s.mode }, { armed: true, recording: true, clipsToday: 1, mode: 'copy' });
    s = reduceRecordingState(s, { type: 'ended', reason: 'hub-closed' }, day1);
    assert.equal(s.lastCloseReason, 'hub-closed');
    assert.equal(s.recording, false);
    s = reduceRecordingState(s, { type: 'started', mode: 'transcode' }, day2);
    assert.equal(s.clipsToday, 1, 'a new day starts the count again');
    assert.equal(s.day, '2026-01-02');
  });
});

describe('test hub HDS codec against HAP-NodeJS DataStreamParser', () => {
  const theirs = (value: unknown): Buffer => {
    const w = new DataStreamWriter();
    DataStreamParser.encode(value, w);
    return w.getData();
  };
  const decodeTheirs = (data: Buffer): unknown => DataStreamParser.decode(new DataStreamReader(data));

  it('decodes what HAP-NodeJS writes, including its back-references', () => {
    // The response header for request id 0: HAP-NodeJS compresses the second Int64 0 to a back-reference.
    const header = theirs({ protocol: 'control', response: 'hello', id: new Int64(0), status: new Int64(0) });
    assert.ok(header.includes(0xa5) || header.some((b) => b >= 0xa0 && b <= 0xcf), 'uses a back-reference');
    assert.deepEqual(decodeHds(header).value, { protocol: 'control', response: 'hello', id: 0, status: 0 });
    const data = Buffer.alloc(40_000, 7);
    const message = theirs({ streamId: 1, packets: [{ data, metadata: { dataType: 'mediaFragment', dataSequenceNumber: 39, dataChunkSequenceNumber: 1, isLastDataChunk: true, dataTotalSize: 262_144 } }], endOfStream: false });
    const decoded = decodeHds(message).value as { packets: Array<{ data: Buffer; metadata: Record<string, unknown> }> };
    assert.ok(decoded.packets[0]?.data.equals(data));
    assert.deepEqual(decoded.packets[0]?.metadata, { dataType: 'mediaFragment', dataSequenceNumber: 39, dataChunkSequenceNumber: 1, isLastDataChunk: true, dataTotalSize: 262_144 });
    assert.deepEqual(decodeHds(theirs({ big: new Int32(70_000), neg: -5, f: 1.5, s: 'x'.repeat(40), t: true, n: null, a: [1, 2, 3] })).value, { big: 70_000, neg: -5, f: 1.5, s: 'x'.repeat(40), t: true, n: null, a: [1, 2, 3] });
  });

  it('writes what HAP-NodeJS reads (no back-references, 39 not inline)', () => {
    const value = { protocol: 'dataSend', request: 'open', id: new HdsInt64(0), streamId: 39, target: 'controller', type: 'ipcamera.recording', reason: 'motion', big: 123_456 };
    const ours = encodeHds(value);
    assert.ok(!ours.some((b, i) => i > 0 && b === 0x2f && ours[i - 1] === 0x48), 'no inline 39');
    assert.deepEqual(decodeTheirs(ours), { protocol: 'dataSend', request: 'open', id: 0, streamId: 39, target: 'controller', type: 'ipcamera.recording', reason: 'motion', big: 123_456 });
  });
});

describe('selected recording configuration TLV', () => {
  it('the test hub encodes the captured real-hub value byte for byte', () => {
    assert.equal(encodeSelectedConfig(REAL_HUB_SELECTION).toString('base64'), REAL_HUB_SELECTION_B64);
  });
});

describe('RecordingDelegate lifetime (real FFmpeg, a feed that sends nothing)', () => {
  // Mocked feed: only the delegate's own teardown is under test here; the real feed is in the integration test.
  const quietFeed = {
    attach: () => ({ release: () => undefined, startedFrom: undefined }),
    keepHistory: () => ({ release: () => undefined }),
    historyInfo: () => undefined,
    hasAudio: false,
  } as unknown as SharedSource;
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  const camera = { id: 'c', name: 'C', video: { mode: 'auto', encoder: 'libx264', maxFps: 30, maxBitrate: 2000 }, audio: { enabled: false } } as unknown as CameraConfig;
  const selection = {
    prebufferLength: 4000, eventTriggerTypes: [1], mediaContainerConfiguration: { type: 0, fragmentLength: 4000 },
    videoCodec: { type: 0, parameters: { profile: 1, level: 2, bitRate: 1000, iFrameInterval: 4000 }, resolution: [640, 360, 15] },
    audioCodec: { type: 0, audioChannels: 1, samplerate: 3, bitrateMode: 0, bitrate: 64 },
  } as unknown as CameraRecordingConfiguration;
  const delegate = (): RecordingDelegate => {
    const d = new RecordingDelegate({ hap: {} as API['hap'], camera, ffmpegPath: 'ffmpeg', source: quietFeed, log, redact: (t) => t, streamInfo: () => undefined, audioActive: () => false, maxMs: 180_000, fragmentSlackMs: 4000 });
    d.updateRecordingConfiguration(selection);
    d.updateRecordingActive(true);
    return d;
  };
  async function endsPromptly(end: (d: RecordingDelegate, g: AsyncGenerator<unknown>, abort: AbortController) => unknown, withSignal: boolean): Promise<void> {
    const d = delegate();
    const abort = new AbortController();
    const generator = d.handleRecordingStreamRequest(1, withSignal ? abort.signal : undefined);
    const next = generator.next();
    await new Promise((r) => setTimeout(r, 300));
    const [pid] = d.runningPids;
    assert.ok(pid, 'the recording FFmpeg runs');
    const started = performance.now();
    await end(d, generator, abort);
    const result = await next.catch((error: unknown) => ({ done: true, error }));
    assert.equal(result.done, true, 'the generator finished');
    assert.ok(performance.now() - started < 3000, 'promptly');
    await d.close();
    assert.throws(() => process.kill(pid, 0), 'FFmpeg is gone');
  }
  it('HAP-NodeJS 0.12 (no AbortSignal): closeRecordingStream ends the generator and FFmpeg', () => endsPromptly((d) => d.closeRecordingStream(1, 0), false));
  it('HAP-NodeJS 2.x: the AbortSignal ends it', () => endsPromptly((_d, _g, abort) => abort.abort(), true));
  it('a hub that acknowledges the end of stream ends it', () => endsPromptly((d) => d.acknowledgeStream(1), false));
});
