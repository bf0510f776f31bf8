/**
 * The dashboard's health from the broker: a real Homebridge running this plugin with MQTT on (a
 * password-protected mosquitto, a non-default topic prefix), and the settings page's server
 * (homebridge-ui/server.js, forked over IPC as the Homebridge UI forks it) answering /status from
 * the retained health topics. With the broker gone it falls back to the status file and says so.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DashboardStatus } from '../../src/ui/ui-requests.js';
import { Homebridge } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { TcpProxy } from '../helpers/tcp-listener.js';
import { UiServer } from '../helpers/ui-server.js';
import { waitFor } from '../helpers/wait.js';

const RTSP_PASSWORD = 'ui-mqtt-Cam-41';
const MQTT_PASSWORD = 'ui-mqtt-Broker-17';
const PREFIX = 'home/cctv';

describe('settings page dashboard from retained MQTT health', () => {
  let broker: Mosquitto;
  let camera: RtspCamera;
  let hb: Homebridge;
  let ui: UiServer;

  before(async () => {
    broker = await Mosquitto.start({ users: { cctv: MQTT_PASSWORD, ha: 'ha-pass' } });
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, user: 'admin', password: RTSP_PASSWORD });
    hb = await Homebridge.start({
      platform: {
        cameras: [
          { id: 'yard', name: 'Yard', source: camera.urlWithCredentials('admin', RTSP_PASSWORD) },
          { id: 'wrong-pass', name: 'Wrong Pass', source: camera.urlWithCredentials('admin', 'not-the-password') },
        ],
        mqtt: { url: broker.url, username: 'cctv', password: MQTT_PASSWORD, topicPrefix: PREFIX },
      },
    });
    ui = await UiServer.start({ storagePath: hb.storageDir, configPath: join(hb.storageDir, 'config.json') });
  });

  after(async () => {
    await ui?.dispose();
    await hb?.dispose();
    await camera?.stop();
    await broker?.stop();
  });

  async function status(): Promise<DashboardStatus> {
    const reply = await ui.request('/status', {});
    assert.equal(reply.success, true, JSON.stringify(reply.data));
    return reply.data as DashboardStatus;
  }

  it('/status reads the retained health of this instance from the broker', async () => {
    const seen = await waitFor(async () => {
      const s = await status();
      const yard = s.cameras.find((c) => c.id === 'yard')?.health;
      const wrong = s.cameras.find((c) => c.id === 'wrong-pass')?.health;
      return s.source === 'mqtt' && yard?.state === 'online' && wrong?.reason === 'unauthorized' ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'MQTT-sourced health: yard online, wrong-pass unauthorized' });
    assert.equal(seen.pluginRunning, true, 'the availability topic says online');
    assert.equal(seen.mqttError, null);
    const yard = seen.cameras.find((c) => c.id === 'yard')!.health!;
    assert.equal(yard.video?.codec, 'h264');
    assert.equal(yard.video?.width, 640);
    // The same payload the plugin retained on <prefix>/<id>/health, as another client sees it.
    const rec = await MqttRecorder.connect(broker.url, [`${PREFIX}/yard/health`], { username: 'ha', password: 'ha-pass' });
    try {
      const retained = await waitFor(() => rec.messages.find((m) => m.topic === `${PREFIX}/yard/health`), { timeoutMs: 10_000, intervalMs: 100, what: 'retained yard health' });
      assert.equal((JSON.parse(retained.payload) as { state: string }).state, 'online');
    } finally {
      await rec.close();
    }
    // Its own client id: the page's reads never took over the plugin's session.
    assert.equal(hb.logs.filter((l) => l.includes('MQTT connected to')).length, 1, 'the plugin connected once');
    assertNoSecrets([JSON.stringify(ui.messages)], [RTSP_PASSWORD, MQTT_PASSWORD, 'not-the-password']);
  });

  it('one read-only subscription for the server\'s life: N polls, one connection; changes seen; per-camera fallback; exit closes it', async () => {
    // The page's server reaches the broker through a counting relay (its own copy of the config);
    // the plugin keeps its direct connection.
    const proxy = await TcpProxy.start(broker.port);
    const uiConfig = join(hb.storageDir, 'config-ui-relay.json');
    const writeUiConfig = (edit: (platform: { cameras: unknown[]; mqtt: { url: string } }) => void): void => {
      const doc = JSON.parse(readFileSync(join(hb.storageDir, 'config.json'), 'utf8')) as { platforms: { platform: string; cameras: unknown[]; mqtt: { url: string } }[] };
      const platform = doc.platforms.find((p) => p.platform === 'CCTV')!;
      platform.mqtt.url = proxy.url;
      edit(platform);
      writeFileSync(uiConfig, JSON.stringify(doc));
    };
    writeUiConfig(() => undefined);
    const topic = `${PREFIX}/wrong-pass/health`;
    const rec = await MqttRecorder.connect(broker.url, [topic], { username: 'cctv', password: MQTT_PASSWORD });
    const relayed = await UiServer.start({ storagePath: hb.storageDir, configPath: uiConfig });
    const poll = async (): Promise<DashboardStatus> => {
      const reply = await relayed.request('/status', {});
      assert.equal(reply.success, true, JSON.stringify(reply.data));
      return reply.data as DashboardStatus;
    };
    const camera = (s: DashboardStatus, id: string): DashboardStatus['cameras'][number] => s.cameras.find((c) => c.id === id)!;
    try {
      // The first poll waits (bounded) for the retained health; the next ones answer from memory.
      const polls: DashboardStatus[] = [];
      for (let i = 0; i < 10; i++) polls.push(await poll());
      for (const s of polls) {
        assert.equal(s.source, 'mqtt', s.mqttError ?? '');
        assert.equal(camera(s, 'yard').health?.state, 'online');
        assert.deepEqual([camera(s, 'wrong-pass').health?.reason, camera(s, 'wrong-pass').source], ['unauthorized', 'mqtt']);
      }
      assert.equal(proxy.connections.length, 1, '10 polls, one MQTT connection');

      // A health change on the broker reaches the next polls over that connection.
      const original = await rec.waitFor(topic, (p) => p.length > 0, 10_000);
      await rec.publish(topic, JSON.stringify({ ...(JSON.parse(original.payload) as object), restarts: 42 }), true);
      await waitFor(async () => (camera(await poll(), 'wrong-pass').health?.restarts === 42 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50, what: 'the changed health on a poll' });

      // Its retained health gone from the broker: that camera comes from the status file, marked so.
      await rec.publish(topic, '', true);
      const mixed = await waitFor(async () => {
        const s = await poll();
        return camera(s, 'wrong-pass').source === 'file' ? s : undefined;
      }, { timeoutMs: 10_000, intervalMs: 50, what: 'wrong-pass from the status file' });
      assert.equal(mixed.source, 'mqtt');
      assert.equal(camera(mixed, 'wrong-pass').health?.reason, 'unauthorized', 'the plugin\'s own word, from the file');
      assert.equal(camera(mixed, 'wrong-pass').health?.restarts, (JSON.parse(original.payload) as { restarts: number }).restarts, 'not the value last seen on the broker');
      assert.equal(camera(mixed, 'yard').source, 'mqtt');
      assert.equal(proxy.connections.length, 1, 'still the one connection');
      await rec.publish(topic, original.payload, true);

      // A camera added to the saved config: a new subscription (and the old one's socket closed).
      writeUiConfig((p) => p.cameras.push({ id: 'porch', name: 'Porch', source: 'rtsp://127.0.0.1:1/x' }));
      const withPorch = await poll();
      assert.equal(withPorch.source, 'mqtt');
      assert.deepEqual([camera(withPorch, 'porch').health, camera(withPorch, 'porch').source], [null, null]);
      assert.equal(camera(withPorch, 'wrong-pass').source, 'mqtt', 'the restored retained health');
      assert.equal(proxy.connections.length, 2);
      await waitFor(() => (proxy.openSockets === 1 ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: 'the old subscription\'s socket closed' });

      // The page closes: the server exits and its socket is gone.
      await relayed.disconnectAndWait();
      await waitFor(() => (proxy.openSockets === 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: 'the subscription socket closed by the exit' });
      assert.equal(proxy.connections.length, 2);
      assertNoSecrets([JSON.stringify(relayed.messages)], [RTSP_PASSWORD, MQTT_PASSWORD, 'not-the-password']);
    } finally {
      await relayed.dispose();
      await rec.close();
      await proxy.close();
    }
  });

  it('with the broker down, /status falls back to the status file and says why', async () => {
    await broker.kill();
    const s = await waitFor(async () => {
      const reply = await status();
      return reply.source === 'file' ? reply : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'status from the file' });
    assert.match(s.mqttError ?? '', /MQTT broker not readable/);
    assert.equal(s.pluginRunning, true, 'the plugin that wrote the file is alive');
    assert.equal(s.cameras.find((c) => c.id === 'yard')?.health?.state, 'online');
    assertNoSecrets([JSON.stringify(ui.messages)], [RTSP_PASSWORD, MQTT_PASSWORD, 'not-the-password']);
    await broker.startAgain();
    // The page's subscription reconnects by itself (bounded backoff) once the plugin has re-retained its health.
    await waitFor(async () => {
      const reply = await status();
      return reply.source === 'mqtt' && reply.cameras.find((c) => c.id === 'yard')?.health?.state === 'online' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'status from the broker again after its restart' });
  });

  it('over TLS: the plugin\'s CA file and verification, read the same way by the page\'s server', async () => {
    const tlsBroker = await Mosquitto.start({ users: { cctv: MQTT_PASSWORD }, tls: true });
    let tlsHb: Homebridge | undefined;
    let tlsUi: UiServer | undefined;
    try {
      tlsHb = await Homebridge.start({
        platform: {
          cameras: [{ id: 'yard', name: 'Yard', source: camera.urlWithCredentials('admin', RTSP_PASSWORD) }],
          mqtt: { url: tlsBroker.url, username: 'cctv', password: MQTT_PASSWORD, tls: { ca: tlsBroker.caFile, rejectUnauthorized: true } },
        },
      });
      tlsUi = await UiServer.start({ storagePath: tlsHb.storageDir, configPath: join(tlsHb.storageDir, 'config.json') });
      const ui2 = tlsUi;
      const seen = await waitFor(async () => {
        const reply = await ui2.request('/status', {});
        const s = reply.data as DashboardStatus;
        return reply.success && s.source === 'mqtt' && s.cameras[0]?.health?.state === 'online' ? s : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500, what: 'MQTT-sourced health over TLS' });
      assert.equal(seen.pluginRunning, true);
      assertNoSecrets([JSON.stringify(tlsUi.messages)], [RTSP_PASSWORD, MQTT_PASSWORD]);
    } finally {
      await tlsUi?.dispose();
      await tlsHb?.dispose();
      await tlsBroker.stop();
    }
  });
});
