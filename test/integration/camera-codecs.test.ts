/**
 * The streams real cameras send, through the real HomeKit controller: an H.265 main stream and an
 * H.264 High stream with B-frames and AAC audio. No MQTT, so no health probe ever runs: the codec
 * must come from the live feed itself (the first START after Homebridge starts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

describe('camera codecs decided from the feed', () => {
  let hevc: RtspCamera;
  let bframes: RtspCamera;
  let hb: Homebridge;
  const clients: HapCameraClient[] = [];
  const streams: StreamHandle[] = [];

  before(async () => {
    [hevc, bframes] = await Promise.all([
      RtspCamera.start({ codec: 'h265', width: 640, height: 360, fps: 15, gopSeconds: 2 }),
      RtspCamera.start({ profile: 'high', bframes: 2, width: 640, height: 360, fps: 25, gopSeconds: 2, audio: true, audioCodec: 'aac' }),
    ]);
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 1,
        cameras: [
          { id: 'hevc-cam', name: 'HEVC Cam', source: hevc.url, audio: { enabled: true } },
          { id: 'bframe-cam', name: 'BFrame Cam', source: bframes.url, audio: { enabled: true } },
          { id: 'forced-copy', name: 'Forced Copy', source: bframes.url, video: { mode: 'copy' } },
        ],
      },
    });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    for (const c of clients) await c.close().catch(() => undefined);
    await hb?.dispose();
    await Promise.all([hevc?.stop(), bframes?.stop()]);
  });

  async function pairWith(name: string): Promise<HapCameraClient> {
    const client = await HapCameraClient.pair({ port: await hb.accessoryPort(name), pin: TEST_PIN });
    clients.push(client);
    return client;
  }

  function feedFfmpegArgs(url: string): string | undefined {
    const pid = hb.pid;
    return pid ? descendants(pid).find((p) => p.comm === 'ffmpeg' && p.args.includes(url) && p.args.includes('pipe:1'))?.args : undefined;
  }

  it('H.265 in auto: transcoded on the very first START, frames decode at the requested size with no errors', async (t) => {
    const client = await pairWith('HEVC Cam');
    const from = hb.logs.length;
    const started = performance.now();
    // Audio enabled on a camera without audio: video only, and one log line that says so.
    const stream = await client.startStream({ width: 1280, height: 720, fps: 15, bitrateKbps: 800, audio: { codec: 'opus', sampleRate: 16 } });
    streams.push(stream);
    const decoded = await stream.waitForFrames(20, 25_000);
    t.diagnostic(`H.265 → H.264: ${decoded.frames} frames ${decoded.width}x${decoded.height} in ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual([decoded.width, decoded.height], [1280, 720]);
    assert.equal(decoded.errors, '', 'no decoder errors');
    const line = await hb.waitForLog(/stream started \(transcode/, 5000, from);
    assert.match(line, /the feed is H\.265 \(PMT stream type 0x24\)/);
    assert.equal(stream.audioPayloads().length, 0, 'no audio packets');
    assert.equal(hb.logs.slice(from).filter((l) => /HEVC Cam.*audio dropped, video continues: the camera stream has no audio track/.test(l)).length, 1);
    await stream.stop();
    const snap = await client.snapshot(640, 360);
    t.diagnostic(`H.265 snapshot in ${Math.round(snap.ms)} ms, ${snap.jpeg.length} bytes`);
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [640, 360]);
  });

  it('H.264 High with B-frames in auto: transcoded; AAC copied into the feed and Opus reaches the viewer', async (t) => {
    const client = await pairWith('BFrame Cam');
    const from = hb.logs.length;
    const stream = await client.startStream({ width: 640, height: 360, fps: 25, bitrateKbps: 800, audio: { codec: 'opus', sampleRate: 16 } });
    streams.push(stream);
    const decoded = await stream.waitForFrames(30, 25_000);
    t.diagnostic(`B-frames → transcode: ${decoded.frames} frames ${decoded.width}x${decoded.height}`);
    assert.deepEqual([decoded.width, decoded.height], [640, 360]);
    assert.equal(decoded.errors, '', 'no decoder errors');
    const line = await hb.waitForLog(/stream started \(transcode/, 5000, from);
    assert.match(line, /B-frames \(SPS max_num_reorder_frames \d\)/);
    const feedArgs = feedFfmpegArgs(bframes.url);
    assert.ok(feedArgs, 'the camera feed FFmpeg runs');
    assert.match(feedArgs, /-c:a copy/, 'AAC is copied into the feed, not re-encoded');
    await waitFor(() => stream.audioPayloads().length > 50, { timeoutMs: 10_000, what: 'Opus packets' });
    const audio = await stream.decodeAudio();
    assert.ok(audio.frames > 20, `decoded audio: ${JSON.stringify(audio)}`);
    assert.equal(audio.codec, 'opus');
    await stream.stop();
    const snap = await client.snapshot(640, 360);
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [640, 360]);
  });

  it('video.mode copy still forces copy for B-frames, and says so', async () => {
    const client = await pairWith('Forced Copy');
    const from = hb.logs.length;
    const stream = await client.startStream({ width: 640, height: 360, fps: 25, bitrateKbps: 800 });
    streams.push(stream);
    const line = await hb.waitForLog(/stream started \(copy/, 20_000, from);
    assert.match(line, /video\.mode is copy/);
    await stream.stop();
  });
});
