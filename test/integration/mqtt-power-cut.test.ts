/**
 * Issue #10 item 3 with every real part: Homebridge loses power (SIGKILL) while a frozen TCP relay
 * between the plugin and mosquitto keeps its old MQTT session open on the broker, and is restarted at
 * once. Once the old session's keepalive has expired, and its `offline` last will has had its chance,
 * the retained availability must read `online`. Two fixes keep it so: the stable client id (the
 * restart takes the old session over) and re-asserting `online` when a stale will arrives.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Homebridge } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { TcpRelayProcess } from '../helpers/tcp-relay-process.js';
import { delay } from '../helpers/wait.js';

const AVAILABILITY = 'cctv/availability';
// Long enough that the restarted Homebridge is up while the old session still lives on the broker
// (MQTT: the broker drops a silent client after 1.5 × keepalive).
const KEEPALIVE_S = 10;
// mosquitto 2.0 acts on an expired keepalive a few seconds late (2.3 s measured at 15 s keepalive).
const EXPIRY_SLACK_S = 8;

describe('MQTT availability after a power cut of Homebridge (real Homebridge, frozen relay)', { timeout: 180_000 }, () => {
  let broker: Mosquitto;
  let relay: TcpRelayProcess;
  let rec: MqttRecorder;
  let storageDir: string;
  const homebridges: Homebridge[] = [];

  before(async () => {
    broker = await Mosquitto.start();
    relay = await TcpRelayProcess.start(broker.port);
    rec = await MqttRecorder.connect(broker.url, [AVAILABILITY]);
    storageDir = mkdtempSync(join(tmpdir(), 'cctv-hb-powercut-'));
  });

  after(async () => {
    await rec?.close();
    for (const hb of homebridges) await hb.stop('SIGKILL');
    await relay?.stop();
    await broker?.stop();
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  });

  const platform = (url: string): Record<string, unknown> => ({
    // A camera that is down: MQTT runs only with a camera, and this one costs no FFmpeg.
    cameras: [{ id: 'gate', name: 'Gate', source: 'rtsp://127.0.0.1:1/gate' }],
    mqtt: { url, keepaliveSeconds: KEEPALIVE_S, homeAssistant: false },
  });

  it('restart at once: after the old session\'s keepalive has expired, availability reads online', async () => {
    const first = await Homebridge.start({ storageDir, platform: platform(relay.url) });
    homebridges.push(first);
    await rec.waitFor(AVAILABILITY, (p) => p === 'online', 30_000);
    // The power cut: the relay freezes with both its sockets open, then Homebridge dies.
    relay.freeze();
    await first.stop('SIGKILL');
    const cutAt = performance.now();
    const mark = rec.messages.length;

    const second = await Homebridge.start({ storageDir, platform: platform(broker.url) });
    homebridges.push(second);
    await second.waitForLog(/MQTT connected to/, 30_000);
    const connectedAfterS = (performance.now() - cutAt) / 1000;
    // Precondition, not a performance bound: a restart slower than the old keepalive proves nothing.
    assert.ok(connectedAfterS < KEEPALIVE_S * 1.5, `the restart connected ${connectedAfterS.toFixed(1)} s after the cut, after the old session expired`);

    // Past the old session's expiry (1.5 × keepalive after its last packet, which was before the cut).
    await delay(Math.max(0, (KEEPALIVE_S * 1.5 + EXPIRY_SLACK_S - (performance.now() - cutAt) / 1000) * 1000));
    const retained = await MqttRecorder.connect(broker.url, [AVAILABILITY]);
    try {
      const value = await retained.waitFor(AVAILABILITY, () => true, 5000);
      const seen = rec.messages.slice(mark).filter((m) => m.topic === AVAILABILITY).map((m) => m.payload);
      console.log(`power cut: restart connected ${connectedAfterS.toFixed(1)} s after the cut; availability since: ${seen.join(' → ')}`);
      assert.equal(value.payload, 'online', `retained availability (seen since the cut: ${seen.join(', ')})`);
      assert.equal(rec.last(AVAILABILITY)?.payload, 'online');
    } finally {
      await retained.close();
    }
    assert.ok(second.running);
  });
});
