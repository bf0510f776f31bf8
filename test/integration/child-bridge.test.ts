/**
 * The plugin as a Homebridge child bridge (`_bridge` in the platform block), next to a second
 * instance on the main bridge, sharing one storage dir and one broker: real Homebridge forks the
 * child, hap-controller pairs with the child's own PIN and port, gets a snapshot and a live view that
 * decodes, and each instance keeps its own MQTT identity and status file. Stopping Homebridge must
 * leave neither the child bridge nor an FFmpeg behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readStatusFile, statusFilePath } from '../../src/ui/status-file.js';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { Homebridge } from '../helpers/homebridge.js';
import { freePort } from '../helpers/free-port.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { descendants, findProcesses, isAlive, processInfo } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { tcpListenAddresses } from '../helpers/tcp-listener.js';
import { waitFor } from '../helpers/wait.js';

const CHILD_USERNAME = '0E:C7:11:22:33:44';
// Not the main bridge's TEST_PIN: pairing proves the child's own HAP server answered.
const CHILD_PIN = '246-81-357';

describe('as a Homebridge child bridge', { timeout: 300_000 }, () => {
  let camera: RtspCamera;
  let broker: Mosquitto;
  let rec: MqttRecorder;
  let hb: Homebridge;
  let client: HapCameraClient | undefined;
  let childPort: number;
  let childPid: number;

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2 });
    broker = await Mosquitto.start();
    rec = await MqttRecorder.connect(broker.url, ['main/#', 'child/#', 'homeassistant/#']);
    childPort = await freePort();
    hb = await Homebridge.start({
      platforms: [
        {
          platform: 'CCTV',
          name: 'CCTV Child',
          // No bind/advertiser here: Homebridge gives the child the main bridge's (127.0.0.1, ciao).
          _bridge: { username: CHILD_USERNAME, port: childPort, pin: CHILD_PIN, name: 'CCTV Child Bridge' },
          sourceLingerSeconds: 5,
          cameras: [{ id: 'porch', name: 'Porch', source: camera.url, unbridge: false }],
          mqtt: { url: broker.url, topicPrefix: 'child' },
        },
        // After the child's block: Homebridge refuses any block of a dynamic platform that follows
        // one it already loaded on the main bridge ("configured multiple times").
        { platform: 'CCTV', name: 'CCTV Main', cameras: [{ id: 'hall', name: 'Hall', source: camera.url, unbridge: false }], mqtt: { url: broker.url, topicPrefix: 'main' } },
      ],
    });
    const started = await hb.waitForLog(/Child bridge starting \(pid \d+\)/, 30_000);
    childPid = Number(/pid (\d+)/.exec(started)?.[1]);
    await hb.waitForLog(new RegExp(`is running on port ${childPort}\\b`), 30_000);
    await hb.waitForLog(/Porch: ready/, 30_000);
  });

  after(async () => {
    await client?.close();
    await rec?.close();
    await hb?.dispose();
    await camera?.stop();
    await broker?.stop();
  });

  it('runs in its own process, and every HAP server of both bridges listens on 127.0.0.1 only', () => {
    assert.equal(processInfo(childPid)?.ppid, hb.pid, 'the child bridge is a child of Homebridge');
    const main = tcpListenAddresses(hb.pid ?? 0);
    const child = tcpListenAddresses(childPid);
    assert.ok(main.includes(`127.0.0.1:${hb.bridgePort}`), main.join(', '));
    assert.ok(child.includes(`127.0.0.1:${childPort}`), child.join(', '));
    for (const address of [...main, ...child]) assert.match(address, /^127\.0\.0\.1:\d+$/, `not loopback: ${address}`);
  });

  it('pairs with the child bridge\'s own PIN and port; a snapshot and a live view decode', async () => {
    client = await HapCameraClient.pair({ port: childPort, pin: CHILD_PIN });
    const aid = await cameraAid(client, 'porch');
    const shot = await client.snapshot(640, 360, aid);
    const info = await jpegInfo(shot.jpeg);
    assert.deepEqual([info.codec, info.width, info.height], ['mjpeg', 640, 360]);
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, aid });
    try {
      const decoded = await stream.waitForFrames(20, 30_000);
      assert.deepEqual([decoded.width, decoded.height], [640, 360]);
      assert.equal(stream.authFailures, 0);
    } finally {
      await stream.stop();
    }
  });

  it('each bridge has its own instance id, MQTT client id, Home Assistant namespace and status file', async () => {
    await rec.waitFor('child/porch/status', (p) => p === 'online', 30_000);
    await rec.waitFor('main/hall/status', (p) => p === 'online', 30_000);
    const ids = JSON.parse(readFileSync(join(hb.storageDir, 'homebridge-cctv-instances.json'), 'utf8')) as Record<string, string>;
    const mainId = ids['main'];
    const childId = ids[CHILD_USERNAME];
    assert.ok(mainId && childId && mainId !== childId, JSON.stringify(ids));
    await rec.waitFor(`homeassistant/binary_sensor/cctv_${childId}/porch_connectivity/config`, (p) => p.includes('child/porch'), 10_000);
    await rec.waitFor(`homeassistant/binary_sensor/cctv_${mainId}/hall_connectivity/config`, (p) => p.includes('main/hall'), 10_000);
    assert.equal(rec.last('child/availability')?.payload, 'online');
    assert.equal(rec.last('main/availability')?.payload, 'online');
    // One client id each: with a shared one the broker would drop each for the other, over and over.
    const connects = (prefix: string): number => hb.logs.filter((l) => l.startsWith(`[${prefix}] MQTT connected`)).length;
    assert.deepEqual([connects('CCTV Child'), connects('CCTV Main')], [1, 1], hb.logs.filter((l) => /MQTT/.test(l)).join('\n'));
    // Both write health at once; neither overwrites the other's cameras.
    const cameraIds = (childBridge?: string): string[] => Object.keys(readStatusFile(statusFilePath(hb.storageDir, childBridge))?.cameras ?? {});
    await waitFor(() => cameraIds().length > 0 && cameraIds(CHILD_USERNAME).length > 0, { timeoutMs: 10_000, what: 'both status files' });
    assert.deepEqual(cameraIds(), ['hall']);
    assert.deepEqual(cameraIds(CHILD_USERNAME), ['porch']);
    assert.equal(readStatusFile(statusFilePath(hb.storageDir, CHILD_USERNAME))?.pid, childPid);
  });

  it('stopping Homebridge ends the child bridge and every FFmpeg', async () => {
    assert.ok(client);
    // A fresh snapshot keeps the child's camera feed FFmpeg alive (linger) while Homebridge stops.
    await client.snapshot(320, 180, await cameraAid(client, 'porch'));
    const ffmpegs = descendants(childPid).filter((p) => p.comm === 'ffmpeg');
    assert.ok(ffmpegs.length > 0, 'the child bridge runs the feed FFmpeg');
    await client.close();
    client = undefined;
    const everything = [childPid, ...descendants(hb.pid ?? 0).map((p) => p.pid)];
    const from = rec.messages.length;
    await hb.stop('SIGTERM');
    await waitFor(() => everything.every((pid) => !isAlive(pid)), { timeoutMs: 10_000, what: `no process of Homebridge left (${everything.filter(isAlive).join(', ')})` });
    assert.deepEqual(findProcesses((p) => p.comm === 'ffmpeg' && p.args.includes(`:${camera.port}/`)).map((p) => p.args), [], 'no FFmpeg reads the camera');
    // The child said goodbye on MQTT itself (a clean shutdown, not its last will after a keepalive).
    await rec.waitFor('child/availability', (p) => p === 'offline', 10_000, from);
  });
});

/** The aid of the bridged camera whose serial number (the camera id) is `id`. */
async function cameraAid(client: HapCameraClient, id: string): Promise<number> {
  for (const accessory of await client.accessories()) {
    try {
      const info = await client.findCamera(accessory.aid);
      if (info.streams.length > 0 && info.information.serialNumber === id) return accessory.aid;
    } catch {
      // the bridge itself is no camera
    }
  }
  throw new Error(`no camera with serial number ${id} on this bridge`);
}
