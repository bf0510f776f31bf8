/**
 * FFmpeg 4.1 (the static build inside the @ffmpeg-installer/linux-x64 devDependency) beside
 * Debian's 5.1: version-dependent options must be chosen from the probed version, or the feed
 * (4.x reads RTSP -timeout as a listen timeout) and every viewer (-stats_period, scale options) fail.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

const FFMPEG_41 = join(dirname(createRequire(import.meta.url).resolve('@ffmpeg-installer/linux-x64/package.json')), 'ffmpeg');

describe('FFmpeg 4.1', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2, audio: true });
    hb = await Homebridge.start({
      platform: {
        ffmpegPath: FFMPEG_41,
        sourceLingerSeconds: 1,
        cameras: [{ id: 'old-ffmpeg', name: 'Old FFmpeg', source: camera.url, audio: { enabled: true }, video: { encoder: 'h264_nvenc' } }],
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Old FFmpeg'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('logs the version and warns once about a missing encoder', async () => {
    await hb.waitForLog(/FFmpeg N-47683/, 5000);
    assert.equal(hb.logs.filter((l) => /h264_nvenc is not in this FFmpeg's encoder list; using libx264/.test(l)).length, 1);
  });

  it('copy: frames decode at the camera size with no errors', async () => {
    const stream = await client.startStream({ width: 1280, height: 720, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    const decoded = await stream.waitForFrames(20, 25_000);
    assert.deepEqual([decoded.width, decoded.height], [640, 360]);
    assert.equal(decoded.errors, '');
    await stream.stop();
  });

  it('transcode (smaller than the feed) with Opus audio, and a snapshot', async (t) => {
    const from = hb.logs.length;
    const stream = await client.startStream({ width: 480, height: 270, fps: 15, bitrateKbps: 600, audio: { codec: 'opus', sampleRate: 16 } });
    streams.push(stream);
    const decoded = await stream.waitForFrames(20, 25_000);
    assert.deepEqual([decoded.width, decoded.height], [480, 270]);
    assert.equal(decoded.errors, '');
    await hb.waitForLog(/stream started \(transcode libx264 480x270/, 5000, from);
    const audio = await stream.decodeAudio();
    assert.ok(audio.frames > 10, JSON.stringify(audio));
    await stream.stop();
    const snap = await client.snapshot(640, 360);
    t.diagnostic(`snapshot with FFmpeg 4.1 in ${Math.round(snap.ms)} ms`);
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [640, 360]);
  });
});
