/**
 * Stream health over MQTT with real parts: mosquitto with a password file, the RTSP camera, real
 * Homebridge and a second MQTT client playing Home Assistant.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

const RTSP_PASSWORD = 'cam-p@ss word';
const MQTT_PASSWORD = 'broker-s3cret';
const INSTANCE = 'a0b1c2d3';
const NODE = `cctv_${INSTANCE}`;

interface Health {
  state: string;
  reason: string | null;
  since: string;
  checkedAt: string;
  video: { codec: string; width: number | null; height: number | null; fps: number | null } | null;
  viewers: number;
  bitrateKbps: number | null;
  restarts: number;
  lastError: string | null;
  timeToFirstFrameMs: number | null;
}

describe('stream health over MQTT', () => {
  let broker: Mosquitto;
  let camera: RtspCamera;
  let hb: Homebridge;
  let rec: MqttRecorder;
  let storageDir: string | undefined;

  before(async () => {
    broker = await Mosquitto.start({ users: { cctv: MQTT_PASSWORD, ha: 'ha-pass' } });
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, user: 'admin', password: RTSP_PASSWORD });
    rec = await MqttRecorder.connect(broker.url, ['cctv/#', 'homeassistant/#'], { username: 'ha', password: 'ha-pass' });
    // A camera removed from the config earlier (this instance's id is written before the first start),
    // and another Homebridge's camera on the same broker, which must be left alone.
    storageDir = mkdtempSync(join(tmpdir(), 'cctv-hb-'));
    writeFileSync(join(storageDir, 'homebridge-cctv-instances.json'), JSON.stringify({ main: INSTANCE }));
    await rec.publish(`homeassistant/binary_sensor/cctv_${INSTANCE}/old-cam_connectivity/config`, JSON.stringify({ name: 'old' }), true);
    await rec.publish('cctv/old-cam/health', JSON.stringify({ state: 'offline' }), true);
    await rec.publish('homeassistant/binary_sensor/cctv_0therhb1/garage_connectivity/config', JSON.stringify({ name: 'other' }), true);
    hb = await Homebridge.start({
      storageDir,
      platform: {
        cameras: [
          { id: 'yard', name: 'Yard', source: camera.urlWithCredentials('admin', RTSP_PASSWORD), motion: true, motionTimeoutSeconds: 2 },
          { id: 'door', name: 'Door', source: camera.urlWithCredentials('admin', RTSP_PASSWORD), doorbell: true },
          { id: 'wrong-pass', name: 'Wrong Pass', source: camera.urlWithCredentials('admin', 'not-the-password') },
        ],
        mqtt: { url: broker.url, username: 'cctv', password: MQTT_PASSWORD, topicPrefix: 'cctv' },
      },
    });
  });

  after(async () => {
    await rec?.close();
    await hb?.dispose();
    await camera?.stop();
    await broker?.stop();
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  });

  function assertNoSecrets(): void {
    const everything = [...rec.messages.map((m) => `${m.topic} ${m.payload}`), ...hb.logs].join('\n');
    for (const secret of [RTSP_PASSWORD, encodeURIComponent(RTSP_PASSWORD), MQTT_PASSWORD, 'not-the-password']) {
      assert.ok(!everything.includes(secret), `secret leaked: ${secret}`);
    }
  }

  it('publishes retained availability, status and health after start', async () => {
    await rec.waitFor('cctv/availability', (p) => p === 'online', 15_000);
    await rec.waitFor('cctv/yard/status', (p) => p === 'online', 20_000);
    const health = await waitFor(() => {
      const h = rec.lastJson<Health>('cctv/yard/health');
      return h?.state === 'online' ? h : undefined;
    }, { timeoutMs: 20_000, what: 'yard health online' });
    for (const key of ['state', 'reason', 'since', 'checkedAt', 'video', 'viewers', 'bitrateKbps', 'restarts', 'decodeErrors', 'decodeErrorsTotal', 'lastError', 'timeToFirstFrameMs']) {
      assert.ok(key in health, `health has ${key}`);
    }
    assert.deepEqual([health.video?.codec, health.video?.width, health.video?.height], ['h264', 640, 360]);
    assert.ok(!Number.isNaN(Date.parse(health.since)));
    assert.ok(rec.last('cctv/yard/status')?.retain !== undefined);
    console.log(`sample health payload: ${JSON.stringify(health)}`);
  });

  it('reports a wrong RTSP password as unauthorized without the password', async () => {
    const h = await waitFor(() => {
      const v = rec.lastJson<Health>('cctv/wrong-pass/health');
      return v?.reason === 'unauthorized' ? v : undefined;
    }, { timeoutMs: 20_000, what: 'wrong-pass unauthorized' });
    assert.equal(h.state, 'offline');
    assert.equal(rec.last('cctv/wrong-pass/status')?.payload, 'offline');
    assertNoSecrets();
  });

  it('publishes Home Assistant discovery, re-sends it when HA comes online, clears removed cameras', async () => {
    const conn = await rec.waitFor(`homeassistant/binary_sensor/${NODE}/yard_connectivity/config`, (p) => p.length > 0, 10_000);
    const payload = JSON.parse(conn.payload) as Record<string, unknown>;
    assert.equal(payload.device_class, 'connectivity');
    assert.equal(payload.entity_category, undefined, 'the primary entity');
    assert.equal(payload.unique_id, `${NODE}_yard_connectivity`);
    assert.equal(payload.state_topic, 'cctv/yard/status');
    assert.ok(JSON.stringify(payload.availability ?? payload.availability_topic).includes('cctv/availability'));
    for (const object of ['fps', 'bitrate', 'viewers', 'time_to_first_frame', 'decode_errors']) {
      await rec.waitFor(`homeassistant/sensor/${NODE}/yard_${object}/config`, (p) => p.length > 0, 5000);
    }
    const cleared = await rec.waitFor(`homeassistant/binary_sensor/${NODE}/old-cam_connectivity/config`, (p) => p === '', 10_000);
    const healthCleared = await rec.waitFor('cctv/old-cam/health', (p) => p === '', 10_000);
    assert.ok(rec.messages.indexOf(cleared) < rec.messages.indexOf(healthCleared), 'discovery gone before the state it reads');
    assert.ok(!rec.messages.some((m) => m.topic.includes('cctv_0therhb1') && m.payload === ''), 'another instance\'s entries are kept');
    const from = rec.messages.length;
    await rec.publish('homeassistant/status', 'online');
    await rec.waitFor(`homeassistant/binary_sensor/${NODE}/yard_connectivity/config`, (p) => p.length > 0, 10_000, from);
    console.log(`sample discovery payload: ${conn.payload}`);
  });

  it('motion and doorbell set topics drive HomeKit, unknown payloads are ignored', async () => {
    const yard = await HapCameraClient.pair({ port: await hb.accessoryPort('Yard'), pin: TEST_PIN });
    const door = await HapCameraClient.pair({ port: await hb.accessoryPort('Door'), pin: TEST_PIN });
    try {
      const yardInfo = await yard.findCamera();
      assert.ok(yardInfo.motionDetected, 'yard has a motion sensor');
      const motion = yardInfo.motionDetected;
      // HAP sends booleans as 0/1.
      assert.equal(Boolean(await yard.readValue(motion)), false);
      await rec.publish('cctv/yard/motion/set', 'ON');
      await waitFor(async () => Boolean(await yard.readValue(motion)), { timeoutMs: 5000, what: 'motion true' });
      // motionTimeoutSeconds: 2 resets it by itself.
      await waitFor(async () => !(await yard.readValue(motion)), { timeoutMs: 6000, what: 'motion reset' });
      const logFrom = hb.logs.length;
      for (let i = 0; i < 5; i++) await rec.publish('cctv/yard/motion/set', 'maybe');
      await hb.waitForLog(/MQTT: ignored cctv\/yard\/motion\/set: payload "maybe"/, 20_000, logFrom);
      await rec.publish('cctv/yard/motion/set', 'OFF'); // processed after the five: a marker
      await delay(500);
      assert.equal(hb.logs.slice(logFrom).filter((l) => l.includes('ignored cctv/yard/motion/set')).length, 1, 'one line per topic per minute');

      const doorInfo = await door.findCamera();
      assert.ok(doorInfo.doorbellEvent, 'door is a doorbell');
      const rings: unknown[] = [];
      door.onEvent((e) => { if (e.iid === doorInfo.doorbellEvent?.iid) rings.push(e.value); });
      await door.subscribe([doorInfo.doorbellEvent]);
      for (let i = 0; i < 4; i++) await rec.publish('cctv/door/doorbell/set', '1');
      await waitFor(() => rings.length > 0, { timeoutMs: 5000, what: 'doorbell event' });
      await delay(1500);
      assert.equal(rings.length, 1, 'rings within the 5 s minimum interval are dropped');
      await rec.publish('cctv/yard/doorbell/set', 'ON');
      await hb.waitForLog(/MQTT: ignored cctv\/yard\/doorbell\/set: camera "yard" has doorbell turned off/);
    } finally {
      await yard.close();
      await door.close();
    }
  });

  it('goes offline within 15 s when the camera stops answering and online within 15 s when it is back', async () => {
    await rec.waitFor('cctv/yard/status', (p) => p === 'online', 20_000);
    const from = rec.messages.length;
    await camera.stop();
    const stoppedAt = performance.now();
    const down = await rec.waitFor('cctv/yard/status', (p) => p === 'offline', 20_000, from);
    const downMs = down.at - stoppedAt;
    const from2 = rec.messages.length;
    await camera.restart();
    const backAt = performance.now();
    const up = await rec.waitFor('cctv/yard/status', (p) => p === 'online', 20_000, from2);
    const upMs = up.at - backAt;
    console.log(`detection: offline ${(downMs / 1000).toFixed(1)} s after the camera stopped, online ${(upMs / 1000).toFixed(1)} s after it answered again`);
    assert.ok(downMs <= 15_000 && upMs <= 15_000);
    const h = rec.lastJson<Health>('cctv/yard/health');
    assert.equal(h?.state, 'online');
  });

  it('re-publishes retained state after a broker restart', async () => {
    await broker.restart();
    const from = rec.messages.length;
    await rec.waitFor('cctv/availability', (p) => p === 'online', 20_000, from);
    await rec.waitFor('cctv/yard/status', (p) => p === 'online', 20_000, from);
    await rec.waitFor('cctv/yard/health', (p) => p.includes('"state"'), 20_000, from);
    assertNoSecrets();
  });

  it('the broker publishes the last will (offline) when Homebridge is killed', async () => {
    const from = rec.messages.length;
    await hb.stop('SIGKILL');
    await rec.waitFor('cctv/availability', (p) => p === 'offline', 60_000, from);
    assertNoSecrets();
  });
});
