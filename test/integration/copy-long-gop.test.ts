/**
 * A copy viewer of a camera with an 8 s GOP (some cameras' "smart" codecs go that long): the viewer
 * waits for the camera's next keyframe with nothing to send, and must not be ended meanwhile by the
 * session's RTCP watchdog or the start timeout. The client sends no RTCP at all, so a watchdog that
 * counted silence before the first frame would end the session within its first tick.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

describe('copy viewer of an 8 s GOP camera', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ width: 320, height: 240, fps: 10, gopSeconds: 8 });
    hb = await Homebridge.start({
      platform: { sourceLingerSeconds: 2, cameras: [{ id: 'long-gop', name: 'Long GOP', source: camera.url, video: { mode: 'copy' } }] },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Long GOP'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('a cold START just after a keyframe keeps its session through the ~8 s wait and decodes the next keyframe', { timeout: 60_000 }, async () => {
    // START right after a keyframe: the feed joins mid-GOP and the next keyframe is ~8 s away.
    const seen = camera.keyframes().length;
    await camera.waitForEvent((e) => e.event === 'keyframe', 20_000, camera.events.length, 'a camera keyframe');
    assert.ok(camera.keyframes().length > seen);
    const logFrom = hb.logs.length;
    const startedAt = performance.now();
    const stream = await client.startStream({ width: 320, height: 240, fps: 10, bitrateKbps: 300, sendRtcp: false });
    streams.push(stream);
    const decoded = await stream.waitForFrames(3, 20_000);
    const waitedMs = performance.now() - startedAt;
    console.log(`8 s GOP: START → first IDR ${stream.firstIdrMs?.toFixed(0)} ms`);
    assert.ok(waitedMs > 4000, `the first picture came after ${waitedMs.toFixed(0)} ms: the START did not wait for a keyframe`);
    assert.deepEqual([decoded.width, decoded.height], [320, 240]);
    assert.equal(decoded.errors.trim(), '');
    assert.equal(stream.authFailures, 0);
    assert.ok(!hb.logs.slice(logFrom).some((l) => /Long GOP: \[[0-9a-f]{8}\]: stream stopped/.test(l)), 'the session was not ended while it waited');
    await stream.stop();
  });
});
