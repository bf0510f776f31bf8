/**
 * The dashboard's health from the broker: a real Homebridge running this plugin with MQTT on (a
 * password-protected mosquitto, a non-default topic prefix), and the settings page's server
 * (homebridge-ui/server.js, forked over IPC as the Homebridge UI forks it) answering /status from
 * the retained health topics. With the broker gone it falls back to the status file and says so.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DashboardStatus } from '../../src/ui/ui-requests.js';
import { Homebridge } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { assertNoSecrets } from '../helpers/secrets.js';
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
