/**
 * decode_errors from real evidence: the fixture camera behind a relay that loses video RTP packets
 * (a camera on a bad link), a transcoding viewer whose FFmpeg decodes the damaged feed, real
 * Homebridge and mosquitto. The health turns to decode_errors with a count while packets are lost,
 * and back to online when the link is clean again; a clean camera beside it stays at 0 throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { LossyRtspRelay } from '../helpers/lossy-rtsp-relay.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

interface Health {
  state: string;
  reason: string | null;
  decodeErrors: number;
  decodeErrorsTotal: number;
}

describe('decode errors from a lossy camera link', () => {
  let broker: Mosquitto;
  let camera: RtspCamera;
  let relay: LossyRtspRelay;
  let hb: Homebridge;
  let rec: MqttRecorder;
  const clients: HapCameraClient[] = [];
  const streams: StreamHandle[] = [];

  const health = (id: string): Health | undefined => rec.lastJson<Health>(`cctv/${id}/health`);
  /** Every health payload a camera published from message index `from` on. */
  const published = (id: string, from = 0): Health[] =>
    rec.messages.slice(from).filter((m) => m.topic === `cctv/${id}/health` && m.payload).map((m) => JSON.parse(m.payload) as Health);

  before(async () => {
    broker = await Mosquitto.start();
    // Snow needs its bitrate, so a second of video is ~100 RTP packets and losing 1 in 10 damages most pictures.
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, bitrate: 1500, pattern: 'snow' });
    relay = await LossyRtspRelay.start({ targetPort: camera.port, dropEvery: 10 });
    rec = await MqttRecorder.connect(broker.url, ['cctv/#']);
    hb = await Homebridge.start({
      platform: {
        cameras: [
          { id: 'lossy', name: 'Lossy', source: relay.urlFor(camera.url), video: { mode: 'transcode' } },
          { id: 'clean', name: 'Clean', source: camera.url, video: { mode: 'transcode' } },
        ],
        mqtt: { url: broker.url, topicPrefix: 'cctv' },
      },
    });
    for (const name of ['Lossy', 'Clean']) {
      const client = await HapCameraClient.pair({ port: await hb.accessoryPort(name), pin: TEST_PIN });
      clients.push(client);
      streams.push(await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 }));
    }
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    for (const c of clients) await c.close();
    await hb?.dispose();
    await rec?.close();
    await relay?.close();
    await camera?.stop();
    await broker?.stop();
  });

  it('clean transcoding viewers: 0 decode errors, online', async (t) => {
    for (const s of streams) await s.waitForFrames(15, 30_000);
    // Snapshots decode the live feed's cached GOP too; a few over more than one GOP (2 s), and long
    // enough for several stats samples.
    for (let i = 0; i < 4; i++) {
      for (const client of clients) await client.snapshot(640, 360);
      await delay(2000);
    }
    for (const id of ['lossy', 'clean']) {
      const h = health(id);
      t.diagnostic(`${id}: ${JSON.stringify(h)}`);
      assert.equal(h?.state, 'online', `${id} online`);
      assert.equal(h?.decodeErrorsTotal, 0, `${id}: no false positives on a clean stream`);
    }
    assert.ok(hb.logs.some((l) => /Lossy.*stream started \(transcode/.test(l)), 'the lossy viewer transcodes (its FFmpeg decodes)');
  });

  it('lost video packets → degraded (decode_errors) with a count; back online once the link is clean', async (t) => {
    const from = rec.messages.length;
    relay.lossy = true;
    const bad = await waitFor(() => {
      const h = health('lossy');
      return h?.reason === 'decode_errors' ? h : undefined;
    }, { timeoutMs: 30_000, what: `lossy health decode_errors (last: ${JSON.stringify(health('lossy'))})` });
    t.diagnostic(`while lossy (${relay.dropped} packets dropped): ${JSON.stringify(bad)}`);
    assert.equal(bad.state, 'degraded');
    assert.ok(bad.decodeErrors > 0 && bad.decodeErrorsTotal >= bad.decodeErrors, `counts published: ${JSON.stringify(bad)}`);
    assert.equal(rec.last('cctv/lossy/status')?.payload, 'online', 'degraded still streams: the simple status stays online');

    relay.lossy = false;
    const recovered = await waitFor(() => {
      const h = health('lossy');
      return h?.state === 'online' ? h : undefined;
    }, { timeoutMs: 30_000, what: `lossy health back online (last: ${JSON.stringify(health('lossy'))})` });
    t.diagnostic(`after the loss stopped: ${JSON.stringify(recovered)}`);
    assert.ok(recovered.decodeErrors <= 2, 'the window has calmed down');
    assert.ok(recovered.decodeErrorsTotal >= bad.decodeErrorsTotal, 'the total is kept as history');
    // The viewer rode it out on the same FFmpeg.
    assert.ok(((await streams[0]?.decode())?.frames ?? 0) > 0);

    // The clean camera beside it (same camera, no relay) never saw a damage message.
    for (const h of published('clean', from)) assert.equal(h.decodeErrorsTotal, 0, `clean: ${JSON.stringify(h)}`);
    assert.equal(health('clean')?.state, 'online');
  });
});
