/**
 * One camera connection for every viewer and snapshot, and joiners that start at the newest keyframe
 * instead of waiting for the camera's next one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

function feedFfmpegs(hb: Homebridge): number {
  return hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg' && !/\bs?rtp:\/\//.test(p.args) && p.args.includes('rtsp://')).length : 0;
}

/** Every access unit the viewer received was at or after its first IDR: it started on a keyframe. */
function startedOnKeyframe(stream: StreamHandle): boolean {
  const s = stream.depacketizer.stats;
  return s.accessUnits > 0 && s.accessUnits === s.accessUnitsSinceIdr;
}

describe('shared camera feed', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2 });
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 3,
        cameras: [
          { id: 'shared', name: 'Shared Cam', source: camera.url, video: { mode: 'copy' } },
          { id: 'pre', name: 'Prebuffered Cam', source: camera.url, video: { mode: 'copy' }, prebuffer: true },
        ],
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Shared Cam'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('3 viewers and snapshots share one camera session, and every viewer decodes frames', async () => {
    // Let the prebuffered camera's session settle so only this camera's sessions are counted.
    await delay(4000);
    const mark = camera.mark();
    const a = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 0 });
    streams.push(a);
    await a.waitForFrames(5, 20_000);
    const snapshotsDuring = [await client.snapshot(640, 360), await client.snapshot(320, 180)];
    const b = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 1 });
    const c = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 2 });
    streams.push(b, c);
    snapshotsDuring.push(await client.snapshot(480, 270));
    const decoded = await Promise.all([a, b, c].map((s) => s.waitForFrames(30, 20_000)));
    for (const d of decoded) assert.deepEqual([d.width, d.height], [640, 360]);
    for (const s of snapshotsDuring) assert.equal((await jpegInfo(s.jpeg)).codec, 'mjpeg');
    assert.equal(a.authFailures + b.authFailures + c.authFailures, 0);
    assert.equal(camera.requests('PLAY', mark), 1, 'one PLAY at the camera for 3 viewers + 3 snapshots');
    assert.equal(feedFfmpegs(hb), 2, 'one feed FFmpeg per camera (this one and the prebuffered one)');
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it('a viewer joining a live feed starts on the newest cached keyframe, before the camera sends its next one', async () => {
    const anchor = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 0 });
    streams.push(anchor);
    await anchor.waitForFrames(5, 20_000);
    // START 300 ms after a camera keyframe: the camera's next one is ~1.7 s away.
    const mark = camera.mark();
    await camera.waitForEvent((e) => e.event === 'keyframe', 10_000, mark, 'a camera keyframe');
    await delay(300);
    const joiner = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 1 });
    streams.push(joiner);
    await joiner.waitForFrames(10, 20_000);
    assert.ok(startedOnKeyframe(joiner), `first access unit is an IDR: ${JSON.stringify(joiner.depacketizer.stats)}`);
    const idrAt = joiner.startedAt + (joiner.firstIdrMs ?? Infinity);
    const nextCameraKeyframe = await waitFor(() => camera.eventsSince(mark, 'keyframe').map((e) => e.receivedAt).find((t) => t > joiner.startedAt),
      { timeoutMs: 5000, what: "the camera's next keyframe after the join" });
    assert.ok(idrAt < nextCameraKeyframe,
      `joiner's IDR arrived ${Math.round(idrAt - joiner.startedAt)} ms after START; camera's next keyframe ${Math.round(nextCameraKeyframe - joiner.startedAt)} ms`);
    console.log(`warm join: START → first IDR ${joiner.firstIdrMs?.toFixed(0)} ms (camera's next keyframe was ${Math.round(nextCameraKeyframe - joiner.startedAt)} ms away)`);
    await Promise.all([anchor.stop(), joiner.stop()]);
  });

  it('the feed lingers after the last viewer, then stops', async () => {
    await waitFor(() => feedFfmpegs(hb) === 1, { timeoutMs: 10_000, what: 'the shared camera feed to stop after its linger time' });
  });

  it('a prebuffered camera keeps its feed running and starts viewers on a keyframe at once', async () => {
    assert.equal(feedFfmpegs(hb), 1, 'the prebuffered feed runs with no viewer');
    const pre = await HapCameraClient.pair({ port: await hb.accessoryPort('Prebuffered Cam'), pin: TEST_PIN });
    try {
      const mark = camera.mark();
      const stream = await pre.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
      streams.push(stream);
      await stream.waitForFrames(10, 20_000);
      assert.ok(startedOnKeyframe(stream));
      assert.equal(camera.requests('PLAY', mark), 0, 'no new camera session for a prebuffered viewer');
      console.log(`prebuffered: START → first IDR ${stream.firstIdrMs?.toFixed(0)} ms`);
      await stream.stop();
    } finally {
      await pre.close();
    }
  });
});
