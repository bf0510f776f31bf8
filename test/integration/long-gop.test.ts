/**
 * A "smart codec" camera: 8 s GOP at 6 Mbit/s, so one GOP is ~6 MB. The cached GOP a viewer starts
 * from is large and old; the stream must go on past it without a freeze, and a snapshot must come
 * back inside HomeKit's 5 s although decoding the whole cached GOP would be slow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { countDecodeEvidence } from '../../src/ffmpeg/decode-evidence.js';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

describe('long, large GOPs (8 s at 6 Mbit/s)', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    // Snow: noise that really needs the bitrate (a test pattern would compress to a tenth of it).
    camera = await RtspCamera.start({ width: 1280, height: 720, fps: 15, gopSeconds: 8, bitrate: 6000, pattern: 'snow' });
    hb = await Homebridge.start({
      platform: { sourceLingerSeconds: 1, cameras: [{ id: 'long-gop', name: 'Long GOP', source: camera.url, prebuffer: true }] },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Long GOP'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('a viewer joining late in a GOP keeps getting frames past the cached GOP and the next keyframe', async (t) => {
    // Let the prebuffered feed get deep into a GOP, so the cached GOP is several MB.
    await hb.waitForLog(/Long GOP.*ready/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const started = performance.now();
    const stream = await client.startStream({ width: 1280, height: 720, fps: 15, bitrateKbps: 2000 });
    streams.push(stream);
    const first = await stream.waitForFrames(5, 20_000);
    t.diagnostic(`first frames after ${Math.round(performance.now() - started)} ms (${first.frames})`);
    // 10 s more: at least one more keyframe (8 s GOP) and no freeze after the cached GOP.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const all = await stream.decode();
    t.diagnostic(`decoded ${all.frames} frames in ${((performance.now() - started) / 1000).toFixed(1)} s; ${stream.annexB().length} bytes`);
    assert.deepEqual([all.width, all.height], [1280, 720]);
    // The Node-side sender paces each ~300 KB keyframe, so nothing is lost on the way: the
    // controller's decoder must not report a single damaged slice (decode-evidence.ts).
    if (all.errors) t.diagnostic(`decoder messages: ${all.errors.replace(/\n/g, ' | ')}`);
    assert.equal(countDecodeEvidence(all.errors), 0, `decoder errors on a clean stream: ${all.errors}`);
    assert.ok(all.frames >= 10 * 15 * 0.8, `frames kept coming: ${all.frames}`);
    await stream.stop();
  });

  it('a snapshot from a deep GOP comes back within 5 s', async (t) => {
    // Deep into a GOP again, with nothing else decoding.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const snap = await client.snapshot(1280, 720);
    t.diagnostic(`snapshot in ${Math.round(snap.ms)} ms, ${snap.jpeg.length} bytes`);
    assert.ok(snap.ms < 5000, `snapshot took ${Math.round(snap.ms)} ms`);
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [1280, 720]);
  });
});
