/**
 * Fault injection around MQTT and camera credentials, with real Homebridge, FFmpeg, RTSP cameras,
 * mosquitto and a HomeKit controller. Each fault fails the test if its outcome regresses:
 * - broker down at start: streaming works, health is logged, reconnects are bounded, and retained
 *   availability/status/health appear once a broker listens on that port;
 * - broker killed and restarted mid-stream: no gap in the stream, retained state re-published;
 * - wrong MQTT password: one clear log line, no password anywhere, streaming unaffected, attempts at
 *   the capped backoff;
 * - broker dead for ~60 s while a camera flaps: Homebridge's RSS stays bounded, nothing queued
 *   (one retained payload per topic, also checked on the connection itself);
 * - wrong RTSP password: clear log line without it, health unauthorized, no retry storm.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MqttConnection } from '../../src/mqtt/mqtt-connection.js';
import { freePort } from '../helpers/free-port.js';
import { decodeH264 } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { rssBytes } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { TcpListener, TcpProxy } from '../helpers/tcp-listener.js';
import { delay, waitFor } from '../helpers/wait.js';

const MQTT_USER = 'cctv';
const MQTT_PASSWORD = `mq-${randomBytes(6).toString('hex')}`;
const HA = { username: 'ha', password: `ha-${randomBytes(6).toString('hex')}` };
const RTSP_PASSWORD = `cam ${randomBytes(4).toString('hex')}:p@ss`;
const MB = 1024 * 1024;

interface Health {
  state: string;
  reason: string | null;
  viewers: number;
  bitrateKbps: number | null;
}

/** Everything Homebridge printed and everything it published, for the secret checks. */
function captured(hb: Homebridge, rec?: MqttRecorder): string[] {
  return [...hb.logs, ...(rec?.messages.map((m) => `${m.topic} ${m.payload}`) ?? [])];
}

/** Samples the largest gap between media packets while a stream runs. */
class GapMeter {
  maxGapMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly stream: StreamHandle) {
    this.timer = setInterval(() => {
      this.maxGapMs = Math.max(this.maxGapMs, this.stream.msSinceLastPacket);
    }, 50);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.maxGapMs;
  }
}

async function pairWith(hb: Homebridge, name: string): Promise<HapCameraClient> {
  return HapCameraClient.pair({ port: await hb.accessoryPort(name), pin: TEST_PIN });
}

describe('fault: broker down at start', () => {
  let port: number;
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient | undefined;
  let broker: Mosquitto | undefined;
  let rec: MqttRecorder | undefined;
  let startedAt = 0;

  before(async () => {
    port = await freePort('tcp');
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 1, user: 'admin', password: RTSP_PASSWORD });
    startedAt = performance.now();
    hb = await Homebridge.start({
      platform: {
        cameras: [{ id: 'porch', name: 'Porch', source: camera.urlWithCredentials('admin', RTSP_PASSWORD), video: { mode: 'copy' } }],
        mqtt: { url: `mqtt://127.0.0.1:${port}`, username: MQTT_USER, password: MQTT_PASSWORD },
      },
    });
  });

  after(async () => {
    await client?.close();
    await rec?.close();
    await hb?.dispose();
    await broker?.stop();
    await camera?.stop();
  });

  it('streams and logs health while nothing listens on the broker port', async () => {
    await hb.waitForLog(new RegExp(`MQTT broker mqtt://127\\.0\\.0\\.1:${port} not connected; retrying with backoff`), 20_000);
    await hb.waitForLog(/Porch: health starting → online/, 20_000);
    client = await pairWith(hb, 'Porch');
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 600 });
    try {
      const decoded = await stream.waitForFrames(30, 20_000);
      assert.deepEqual([decoded.width, decoded.height], [640, 360]);
    } finally {
      await stream.stop().catch(() => undefined);
      await stream.dispose();
    }
    assert.equal(hb.logs.filter((l) => /MQTT broker .* not connected/.test(l)).length, 1, 'the outage is logged once, not per attempt');
    assertNoSecrets(captured(hb), [MQTT_PASSWORD, RTSP_PASSWORD]);
  });

  it('reconnect attempts are bounded (counted at a listener started later on that port)', async () => {
    // By now the backoff has grown (1, 2, 4, 8, 16 s … capped at 30 s, ±20 %).
    await delay(Math.max(0, 15_000 - (performance.now() - startedAt)));
    const listener = await TcpListener.start({ port, mode: 'close' });
    const windowStart = performance.now();
    const windowMs = 32_000;
    await delay(windowMs);
    await listener.close();
    const attempts = listener.connections.map((c) => c.at);
    const gaps = attempts.slice(1).map((at, i) => ((at - (attempts[i] ?? at)) / 1000).toFixed(1));
    const since = ((windowStart - startedAt) / 1000).toFixed(0);
    console.log(`broker down: ${attempts.length} connection attempts in ${windowMs / 1000} s (from ${since} s after start; gaps ${gaps.join(', ') || '-'} s)`);
    assert.ok(attempts.length >= 1, 'it keeps retrying');
    assert.ok(attempts.length <= 4, `at most 4 attempts in ${windowMs / 1000} s once backed off, got ${attempts.length}`);
    for (let i = 1; i < attempts.length; i++) assert.ok((attempts[i] ?? 0) - (attempts[i - 1] ?? 0) >= 4000, `attempts ${gaps[i - 1]} s apart`);
  });

  it('a broker appearing on that port gets retained availability, status and health', async () => {
    broker = await Mosquitto.start({ port, users: { [MQTT_USER]: MQTT_PASSWORD, [HA.username]: HA.password } });
    const brokerAt = performance.now();
    rec = await MqttRecorder.connect(broker.url, ['cctv/#'], HA);
    const online = await rec.waitFor('cctv/availability', (p) => p === 'online', 45_000);
    await rec.waitFor('cctv/porch/status', (p) => p === 'online', 15_000);
    const health = await waitFor(() => {
      const h = rec?.lastJson<Health>('cctv/porch/health');
      return h?.state === 'online' ? h : undefined;
    }, { timeoutMs: 15_000, what: 'porch health online' });
    console.log(`broker up: plugin connected and published retained state ${((online.at - brokerAt) / 1000).toFixed(1)} s after the broker started (backoff cap 30 s)`);
    // Retained: a client that connects now still gets all three.
    const late = await MqttRecorder.connect(broker.url, ['cctv/#'], HA);
    try {
      for (const topic of ['cctv/availability', 'cctv/porch/status', 'cctv/porch/health']) {
        const m = await late.waitFor(topic, (p) => p.length > 0, 5000);
        assert.equal(m.retain, true, `${topic} is retained`);
      }
    } finally {
      await late.close();
    }
    assert.equal(health.state, 'online');
    assertNoSecrets(captured(hb, rec), [MQTT_PASSWORD, RTSP_PASSWORD, HA.password]);
  });
});

describe('fault: broker killed and restarted; broker dead for a minute while a camera flaps', () => {
  let broker: Mosquitto;
  let camera: RtspCamera;
  let hb: Homebridge;
  let rec: MqttRecorder;
  let client: HapCameraClient | undefined;

  before(async () => {
    broker = await Mosquitto.start({ users: { [MQTT_USER]: MQTT_PASSWORD, [HA.username]: HA.password } });
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 1, user: 'admin', password: RTSP_PASSWORD });
    rec = await MqttRecorder.connect(broker.url, ['cctv/#'], HA);
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 2,
        cameras: [
          { id: 'live', name: 'Live', source: camera.urlWithCredentials('admin', RTSP_PASSWORD), video: { mode: 'copy' } },
          // Always connected: its fps/bitrate keep changing and it flaps with the camera.
          { id: 'flappy', name: 'Flappy', source: camera.urlWithCredentials('admin', RTSP_PASSWORD), prebuffer: true },
        ],
        mqtt: { url: broker.url, username: MQTT_USER, password: MQTT_PASSWORD },
      },
    });
    await rec.waitFor('cctv/availability', (p) => p === 'online', 20_000);
    await rec.waitFor('cctv/live/status', (p) => p === 'online', 20_000);
  });

  after(async () => {
    await client?.close();
    await rec?.close();
    await hb?.dispose();
    await broker?.stop();
    await camera?.stop();
  });

  it('the stream keeps decoding through a broker SIGKILL and restart; retained state is re-published', async () => {
    client = await pairWith(hb, 'Live');
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 600 });
    try {
      await stream.waitForFrames(15, 20_000);
      const meter = new GapMeter(stream);
      const offset = stream.annexB().length;
      const packetsBefore = stream.packets.video;
      await delay(1000);
      await broker.kill();
      const killedAt = performance.now();
      await delay(5000);
      const from = rec.messages.length;
      await broker.startAgain();
      const restartedAt = performance.now();
      const online = await rec.waitFor('cctv/availability', (p) => p === 'online', 40_000, from);
      await rec.waitFor('cctv/live/status', (p) => p === 'online', 10_000, from);
      await rec.waitFor('cctv/live/health', (p) => p.includes('"state":"online"'), 10_000, from);
      await rec.waitFor('cctv/flappy/health', (p) => p.includes('"state"'), 10_000, from);
      await delay(2000);
      const maxGap = meter.stop();
      const tail = await decodeH264(stream.annexB().subarray(offset));
      const seconds = (performance.now() - killedAt) / 1000 + 1;
      console.log(`broker restart: state re-published ${((online.at - restartedAt) / 1000).toFixed(1)} s after the broker came back (${((online.at - killedAt) / 1000).toFixed(1)} s after the kill); ` +
        `stream: largest packet gap ${maxGap.toFixed(0)} ms, ${stream.packets.video - packetsBefore} video packets and ${tail.frames} decoded frames in ${seconds.toFixed(1)} s`);
      assert.ok(maxGap < 3000, `no gap over 3 s in the stream (largest ${maxGap.toFixed(0)} ms)`);
      assert.ok(tail.frames >= seconds * 15 * 0.5, `frames kept coming: ${tail.frames} in ${seconds.toFixed(1)} s`);
      assert.equal(stream.authFailures, 0);
    } finally {
      await stream.stop().catch(() => undefined);
      await stream.dispose();
    }
    assertNoSecrets(captured(hb, rec), [MQTT_PASSWORD, RTSP_PASSWORD, HA.password]);
  });

  it('broker dead ~60 s while the camera flaps: RSS bounded, nothing queued, latest state re-published', async () => {
    const pid = hb.pid;
    assert.ok(pid);
    await rec.waitFor('cctv/flappy/status', (p) => p === 'online', 20_000);
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      warm.push(rssBytes(pid));
      await delay(1000);
    }
    const baseline = Math.max(...warm);
    const samples: number[] = [];
    const sampler = setInterval(() => {
      try {
        samples.push(rssBytes(pid));
      } catch {
        // exited; the assertions below say so
      }
    }, 1000);
    const logFrom = hb.logs.length;
    await broker.kill();
    const downAt = performance.now();
    try {
      for (let cycle = 0; cycle < 4; cycle++) {
        await camera.stop();
        await delay(6000);
        await camera.startAgain();
        await delay(8000);
      }
      await delay(Math.max(0, 60_000 - (performance.now() - downAt)));
    } finally {
      clearInterval(sampler);
    }
    const transitions = hb.logs.slice(logFrom).filter((l) => /Flappy: health /.test(l));
    assert.ok(hb.running);
    const from = rec.messages.length;
    await broker.startAgain();
    const back = await rec.waitFor('cctv/availability', (p) => p === 'online', 40_000, from);
    await delay(3000);
    const burst = rec.messages.slice(from).filter((m) => m.at <= back.at + 3000);
    const perTopic = new Map<string, number>();
    for (const m of burst) perTopic.set(m.topic, (perTopic.get(m.topic) ?? 0) + 1);
    const peak = Math.max(baseline, ...samples);
    console.log(`broker down ${((back.at - downAt) / 1000).toFixed(0)} s, camera flapped 4 times (${transitions.length} health transitions logged); ` +
      `Homebridge RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB (+${((peak - baseline) / MB).toFixed(1)} MB), end ${((samples.at(-1) ?? 0) / MB).toFixed(1)} MB; ` +
      `messages within 3 s of reconnecting: ${burst.length} (${[...perTopic].map(([t, n]) => `${t}×${n}`).join(', ')})`);
    assert.ok(transitions.length >= 4, `the camera flapped: ${transitions.join(' | ')}`);
    assert.ok(peak - baseline < 40 * MB, `RSS grew by ${((peak - baseline) / MB).toFixed(1)} MB`);
    // A queue would replay every health update of the outage (one per 5 s per camera, ~12 here); we expect the
    // latest (re-published on connect), plus at most a live update or two.
    for (const [topic, n] of perTopic) assert.ok(n <= 3, `${topic} sent ${n} times right after reconnecting`);
    await rec.waitFor('cctv/flappy/status', (p) => p === 'online', 20_000, from);
    assertNoSecrets(captured(hb, rec), [MQTT_PASSWORD, RTSP_PASSWORD, HA.password]);
  });

  it('the connection keeps one retained payload per topic while offline (unit level, 100 000 publishes)', async () => {
    const dead = await freePort('tcp');
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m), debug: (m: string) => lines.push(m) };
    const connection = new MqttConnection({ url: `mqtt://u:${MQTT_PASSWORD}@127.0.0.1:${dead}`, password: MQTT_PASSWORD, availabilityTopic: 'cctv/availability', log });
    connection.start();
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      const payload = 'x'.repeat(1024);
      for (let i = 0; i < 100_000; i++) connection.publishRetained(`cctv/cam-${i % 20}/health`, `${i}:${payload}`);
      const retained = (connection as unknown as { retained: Map<string, string | Buffer> }).retained;
      const heapAfter = process.memoryUsage().heapUsed;
      console.log(`offline MqttConnection: 100000 publishes to 20 topics → ${retained.size} retained payloads, heap +${((heapAfter - heapBefore) / MB).toFixed(1)} MB`);
      assert.equal(retained.size, 20);
      assert.ok(String(retained.get('cctv/cam-7/health')).startsWith('99987:'), 'the latest payload is kept');
      await waitFor(() => lines.some((l) => /not connected/.test(l)), { timeoutMs: 10_000, what: 'the outage logged' });
    } finally {
      await connection.close({ timeoutMs: 1000 });
    }
    assertNoSecrets(lines, [MQTT_PASSWORD]);
  });
});

describe('fault: wrong MQTT password and wrong RTSP password', () => {
  let broker: Mosquitto;
  let proxy: TcpProxy;
  let camera: RtspCamera;
  let locked: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient | undefined;
  const WRONG_MQTT = `wrong-${randomBytes(6).toString('hex')}`;
  const WRONG_RTSP = `nope ${randomBytes(4).toString('hex')}`;
  const LOCKED_PASSWORD = `locked-${randomBytes(6).toString('hex')}`;
  let startedAt = 0;
  let lockedMark = 0;

  before(async () => {
    broker = await Mosquitto.start({ users: { [MQTT_USER]: MQTT_PASSWORD } });
    proxy = await TcpProxy.start(broker.port);
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 1 });
    locked = await RtspCamera.start({ width: 320, height: 240, fps: 10, user: 'admin', password: LOCKED_PASSWORD });
    lockedMark = locked.mark();
    startedAt = performance.now();
    hb = await Homebridge.start({
      platform: {
        cameras: [
          { id: 'good', name: 'Good', source: camera.url, video: { mode: 'copy' } },
          { id: 'locked', name: 'Locked', source: locked.urlWithCredentials('admin', WRONG_RTSP) },
        ],
        mqtt: { url: proxy.url, username: MQTT_USER, password: WRONG_MQTT },
      },
    });
  });

  after(async () => {
    await client?.close();
    await hb?.dispose();
    await proxy?.close();
    await broker?.stop();
    await locked?.stop();
    await camera?.stop();
  });

  it('wrong MQTT password: one clear log line without the password, streaming unaffected', async () => {
    const line = await hb.waitForLog(/MQTT broker mqtt:\/\/127\.0\.0\.1:\d+ refused the connection: (not authorized|bad user name or password) \(code \d+\); check mqtt\.username \/ mqtt\.password/, 20_000);
    console.log(`log: ${line}`);
    client = await pairWith(hb, 'Good');
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 600 });
    try {
      const decoded = await stream.waitForFrames(30, 20_000);
      assert.deepEqual([decoded.width, decoded.height], [640, 360]);
    } finally {
      await stream.stop().catch(() => undefined);
      await stream.dispose();
    }
    assert.equal(hb.logs.filter((l) => /refused the connection/.test(l)).length, 1, 'logged once per outage');
    assertNoSecrets(captured(hb), [WRONG_MQTT, MQTT_PASSWORD]);
  });

  it('wrong MQTT password: reconnect attempts at the capped backoff', async () => {
    // Observe at least 45 s from the first attempt: the cap is 30 s (jitter may shorten it by 20 %).
    await waitFor(() => proxy.connections.length > 0, { timeoutMs: 20_000, what: 'a first MQTT connection attempt' });
    const first = proxy.connections[0] ?? 0;
    await delay(Math.max(0, first + 46_000 - performance.now()));
    const attempts = proxy.connections.filter((at) => at <= first + 46_000);
    const gaps = attempts.slice(1).map((at, i) => (at - (attempts[i] ?? at)) / 1000);
    console.log(`wrong MQTT password: ${attempts.length} attempts in the 46 s after the first (gaps ${gaps.map((g) => g.toFixed(1)).join(', ')} s)`);
    assert.ok(attempts.length >= 2 && attempts.length <= 3, `2–3 attempts expected, got ${attempts.length}`);
    for (const gap of gaps) assert.ok(gap >= 23, `attempts ${gap.toFixed(1)} s apart, below the 30 s cap − 20 % jitter`);
    assertNoSecrets(captured(hb), [WRONG_MQTT, MQTT_PASSWORD]);
  });

  it('wrong RTSP password: clear log line without it, health unauthorized, no retry storm', async () => {
    const line = await hb.waitForLog(/Locked: health starting → offline \(unauthorized\)/, 20_000);
    console.log(`log: ${line}`);
    // The window since Homebridge started is at least ~60 s by now (the MQTT checks above).
    const windowS = (performance.now() - startedAt) / 1000;
    const failures = locked.authFailures({ withCredentials: true, since: lockedMark });
    const all = locked.authFailures({ since: lockedMark });
    const rate = failures / windowS;
    console.log(`wrong RTSP password: ${failures} refused attempts with credentials (${all} 401s in all) in ${windowS.toFixed(0)} s = ${(rate * 60).toFixed(1)}/min`);
    assert.ok(windowS >= 40, `observed ${windowS.toFixed(0)} s`);
    assert.ok(failures >= 1, 'the camera was tried');
    // Hard failures are re-probed every 10 s (±20 %): about 6 a minute; a storm would be many per second.
    assert.ok(rate <= 0.15, `at most ~9 attempts a minute, got ${(rate * 60).toFixed(1)}/min`);
    assertNoSecrets(captured(hb), [WRONG_RTSP, LOCKED_PASSWORD, WRONG_MQTT]);
  });
});
