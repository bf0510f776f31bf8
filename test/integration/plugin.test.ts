/**
 * The foundation end to end: real RTSP camera, real Homebridge loading the built plugin, a real
 * HomeKit controller (hap-controller) pairing, listing the camera and fetching snapshots.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'pa ss;w0rd$(id)';
const MQTT_PASSWORD = 'mqtt-secret-913';

function ffmpegChildren(hb: Homebridge): number {
  return hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg').length : 0;
}

function assertNoSecrets(hb: Homebridge): void {
  const text = hb.logs.join('\n');
  for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), MQTT_PASSWORD, 'hunter2']) {
    assert.ok(!text.includes(secret), `a secret leaked into the log: ${secret}`);
  }
}

describe('foundation: pairing, accessories, snapshots, config errors', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  let port: number;

  before(async () => {
    camera = await RtspCamera.start({ width: 1280, height: 720, fps: 15, user: 'admin', password: PASSWORD });
    hb = await Homebridge.start({
      platform: {
        // Debug lines count the snapshot jobs (and prove debug output is redacted too).
        debug: true,
        cameras: [
          { id: 'front-door', name: 'Front Door', source: camera.urlWithCredentials('admin', PASSWORD), manufacturer: 'Acme', model: 'C1' },
          { id: 'Bad Id', name: 'Broken Cam', source: 'rtsp://admin:hunter2@127.0.0.1:1/x' },
          { id: 'no-source', name: 'No Source' },
          { id: 'front-door', name: 'Duplicate', source: 'rtsp://admin:hunter2@127.0.0.1:1/y' },
          { id: 'garage', name: 'Garage', source: camera.urlWithCredentials('admin', PASSWORD), video: { maxFps: 500 } },
        ],
        // An unreachable broker with a password: must not leak and must not block cameras.
        mqtt: { url: 'mqtt://127.0.0.1:1', username: 'u', password: MQTT_PASSWORD },
      },
    });
    port = await hb.accessoryPort('Front Door');
    client = await HapCameraClient.pair({ port, pin: TEST_PIN });
  });

  after(async () => {
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('reports each broken camera once, by name and field, and keeps the good one', async () => {
    await hb.waitForLog(/Front Door: ready/);
    const errors = hb.logs.filter((l) => /config: /.test(l));
    assert.ok(errors.some((l) => l.includes('"Broken Cam"') && l.includes('field "id"') && l.includes('camera skipped')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('"No Source"') && l.includes('field "source" is required')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('"Duplicate"') && l.includes('already used')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('"Garage"') && l.includes('video.maxFps')), errors.join('\n'));
    assert.equal(hb.logs.filter((l) => l.includes('"Broken Cam"')).length, 1, 'logged once');
    assert.ok(!hb.logs.some((l) => /Garage: ready|Broken Cam: ready/.test(l)));
    assert.ok(hb.running, 'Homebridge keeps running');
    assertNoSecrets(hb);
  });

  it('is a HomeKit camera with correct accessory information', async () => {
    const info = await client.findCamera();
    // HAP-NodeJS appends part of the accessory id to standalone accessories' names.
    assert.match(info.information.name ?? '', /^Front Door( [0-9A-F]{4})?$/);
    assert.equal(info.information.manufacturer, 'Acme');
    assert.equal(info.information.model, 'C1');
    assert.equal(info.information.serialNumber, 'front-door');
    // One stream management service per allowed viewer (maxStreams defaults to 4).
    assert.equal(info.streams.length, 4, `stream services: ${info.streams.length}`);
    const config = await client.readStreamConfig(0);
    assert.ok(config.video[0]?.resolutions.some(([w, h]) => w === 1920 && h === 1080));
    assert.ok(config.video[0]?.resolutions.some(([w, h, fps]) => w === 320 && h === 240 && fps === 15), 'Apple Watch size');
    assert.deepEqual(config.cryptoSuites, [0]);
  });

  it('answers snapshots with a real JPEG of the requested size, cold and warm, coalescing concurrent requests', async () => {
    const cold = await client.snapshot(640, 360);
    const coldInfo = await jpegInfo(cold.jpeg);
    assert.deepEqual([coldInfo.codec, coldInfo.width, coldInfo.height], ['mjpeg', 640, 360]);
    const warm = await client.snapshot(1280, 720);
    assert.deepEqual([(await jpegInfo(warm.jpeg)).width, (await jpegInfo(warm.jpeg)).height], [1280, 720]);
    const sessionsBefore = camera.requests('PLAY');
    const fromLog = hb.logs.length;
    // Three "phones" on their own HAP connections, so the requests really overlap (one connection
    // serialises them, and the second would just hit the 1 s fresh picture).
    const phones = [client, HapCameraClient.connect({ port, pairing: client.pairing }), HapCameraClient.connect({ port, pairing: client.pairing })];
    const parallel = await Promise.all(phones.map((p) => p.readStreamConfig(0)))
      .then(() => Promise.all(phones.map((p) => p.snapshot(480, 270))))
      .finally(() => Promise.all(phones.slice(1).map((p) => p.close())));
    for (const s of parallel) assert.deepEqual([(await jpegInfo(s.jpeg)).width, (await jpegInfo(s.jpeg)).height], [480, 270]);
    // The feed was still live (linger), so none of these opened a new camera session.
    assert.equal(camera.requests('PLAY'), sessionsBefore);
    // One more snapshot after them is a fence: once its job's debug line is in, every earlier one is.
    await client.snapshot(320, 180);
    await hb.waitForLog(/Front Door: snapshot 320x180 in \d+ ms/, 10_000, fromLog);
    const jobs = hb.logs.slice(fromLog).filter((l) => /Front Door: snapshot 480x270 in \d+ ms/.test(l));
    assert.equal(jobs.length, 1, `three concurrent requests share one snapshot job:\n${jobs.join('\n')}`);
    console.log(`snapshot latency: cold ${cold.ms.toFixed(0)} ms, warm ${warm.ms.toFixed(0)} ms, 3 parallel warm max ${Math.max(...parallel.map((p) => p.ms)).toFixed(0)} ms`);
    assertNoSecrets(hb);
  });

  it('stops every FFmpeg child on shutdown', async () => {
    await waitFor(() => ffmpegChildren(hb) > 0, { timeoutMs: 5000, what: 'the camera feed FFmpeg (lingering after snapshots)' });
    await client.close();
    await hb.stop('SIGTERM');
    assert.equal(hb.running, false);
    assert.equal(ffmpegChildren(hb), 0);
  });
});

describe('foundation: accessory lifecycle across restarts', () => {
  it('restores cached bridged cameras, keeps identity on rename, removes deleted ones', async () => {
    const camera = await RtspCamera.start({ width: 640, height: 360, fps: 10 });
    const cams = [
      { id: 'porch', name: 'Porch', source: camera.url, unbridge: false },
      { id: 'yard', name: 'Yard', source: camera.url, unbridge: false },
    ];
    let hb = await Homebridge.start({ platform: { cameras: cams } });
    const storageDir = hb.storageDir;
    try {
      let client = await HapCameraClient.pair({ port: hb.bridgePort, pin: TEST_PIN });
      const listed = await client.accessories();
      const cameraAids = async (c: HapCameraClient): Promise<Map<string, number>> => {
        const out = new Map<string, number>();
        for (const acc of await c.accessories()) {
          try {
            const info = await c.findCamera(acc.aid);
            if (info.streams.length > 0 && info.information.serialNumber) out.set(info.information.serialNumber, acc.aid);
          } catch {
            // the bridge itself is no camera
          }
        }
        return out;
      };
      assert.equal(listed.length, 3, 'bridge + 2 cameras');
      const before = await cameraAids(client);
      const pairing = client.pairing;
      await client.close();
      await hb.stop();

      // Rename "Porch" and delete "Yard": same storage, so the same pairing and cache.
      hb = await Homebridge.start({ platform: { cameras: [{ ...cams[0], name: 'Front Porch' }] }, storageDir });
      await hb.waitForLog(/removed "Yard" from HomeKit/);
      client = HapCameraClient.connect({ port: hb.bridgePort, pairing });
      const afterRestart = await cameraAids(client);
      assert.deepEqual([...afterRestart.keys()], ['porch']);
      assert.equal(afterRestart.get('porch'), before.get('porch'), 'renaming keeps the accessory');
      const info = await client.findCamera(afterRestart.get('porch'));
      assert.equal(info.information.serialNumber, 'porch');
      await client.close();
    } finally {
      await hb.stop();
      await hb.dispose();
      await camera.stop();
    }
  });

  it('stays idle when unconfigured and reports a missing FFmpeg once without crashing', async () => {
    const idle = await Homebridge.start({ platform: {} });
    try {
      await idle.waitForLog(/no cameras configured/);
    } finally {
      await idle.dispose();
    }
    const noFfmpeg = await Homebridge.start({ platform: { ffmpegPath: '/nonexistent/ffmpeg', cameras: [{ id: 'a', name: 'A', source: 'rtsp://127.0.0.1:1/a' }] } });
    try {
      await noFfmpeg.waitForLog(/FFmpeg unavailable, cameras not started: ffmpegPath "\/nonexistent\/ffmpeg" is not an executable file/);
      assert.ok(noFfmpeg.running);
    } finally {
      await noFfmpeg.dispose();
    }
  });
});
