/**
 * Fault injection, lifecycle: FFmpeg SIGKILLed mid-stream (viewer and camera feed), the camera
 * rebooting under a viewer, a dead camera retried with backoff instead of a spin, and SIGTERM with
 * everything running. Real camera, real Homebridge, a HomeKit controller and MQTT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { feedFfmpegs, KnockCounter, viewerFfmpegs, zombieChildren } from '../helpers/fault-tools.js';
import { HapCameraClient, StreamingStatus, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { descendants, isAlive, processInfo } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

const VIEW = { width: 640, height: 360, fps: 15, bitrateKbps: 800 } as const;
const CAMERA = { width: 640, height: 360, fps: 15, gopSeconds: 1 } as const;
const BACKOFF_STAGES_MS = [500, 1000, 2000, 4000, 8000, 10_000];

interface Health {
  state: string;
  reason: string | null;
  restarts: number;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

async function waitForStatus(client: HapCameraClient, index: number, status: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await client.streamingStatus(index)) === status, {
    timeoutMs, intervalMs: 200, what: `stream service ${index} streaming status ${status}`,
  });
}

async function waitForNoViewers(hb: Homebridge, timeoutMs = 8000): Promise<void> {
  await waitFor(() => viewerFfmpegs(hb.pid).length === 0, { timeoutMs, what: 'every viewer FFmpeg to exit' });
}

/** Killed children must be reaped: no zombie under Homebridge, the pid gone from /proc. */
async function assertReaped(hb: Homebridge, pid: number): Promise<void> {
  await waitFor(() => zombieChildren(hb.pid).length === 0 && processInfo(pid)?.ppid !== hb.pid, {
    timeoutMs: 5000, what: `FFmpeg ${pid} reaped (zombies: ${JSON.stringify(zombieChildren(hb.pid))})`,
  });
}

/** A new viewer after the fault: START, frames decode, STOP, its FFmpeg gone. Returns ms to decode. */
async function viewerWorks(client: HapCameraClient, hb: Homebridge, streams: StreamHandle[], timeoutMs = 20_000): Promise<number> {
  const t0 = performance.now();
  const stream = await client.startStream({ ...VIEW });
  streams.push(stream);
  const decoded = await stream.waitForFrames(10, timeoutMs);
  const ms = performance.now() - t0;
  assert.deepEqual([decoded.width, decoded.height], [CAMERA.width, CAMERA.height]);
  assert.equal(stream.authFailures, 0);
  await stream.stop();
  await waitForNoViewers(hb);
  await stream.dispose();
  return ms;
}

describe('faults: FFmpeg killed, camera reboot, reconnect backoff', () => {
  let broker: Mosquitto;
  let rec: MqttRecorder;
  let main: RtspCamera;
  let retry: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    broker = await Mosquitto.start();
    rec = await MqttRecorder.connect(broker.url, ['cctv/#']);
    main = await RtspCamera.start({ ...CAMERA });
    retry = await RtspCamera.start({ ...CAMERA });
    hb = await Homebridge.start({
      platform: {
        // debug: the source logs each scheduled restart ("camera feed restarts in N ms").
        debug: true,
        sourceLingerSeconds: 2,
        cameras: [
          { id: 'main', name: 'Main Cam', source: main.url, video: { mode: 'copy', copySender: 'ffmpeg' } },
          { id: 'retry', name: 'Retry Cam', source: retry.url, video: { mode: 'copy', copySender: 'ffmpeg' }, prebuffer: true },
        ],
        mqtt: { url: broker.url, topicPrefix: 'cctv' },
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Main Cam'), pin: TEST_PIN });
    await rec.waitFor('cctv/main/status', (p) => p === 'online', 30_000);
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await hb?.dispose();
    await rec?.close().catch(() => undefined);
    await main?.stop();
    await retry?.stop();
    await broker?.stop();
  });

  it('viewer FFmpeg SIGKILLed: the session ends, HomeKit is told, no zombie, the next viewer works', async () => {
    const stream = await client.startStream({ ...VIEW });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    assert.equal(await client.streamingStatus(0), StreamingStatus.IN_USE);
    const [viewer] = await waitFor(() => {
      const v = viewerFfmpegs(hb.pid);
      return v.length === 1 ? v : undefined;
    }, { timeoutMs: 5000, what: 'one viewer FFmpeg' });
    assert.ok(viewer);
    const from = hb.logs.length;
    const killedAt = performance.now();
    process.kill(viewer.pid, 'SIGKILL');
    await hb.waitForLog(/Main Cam: \[[0-9a-f]{8}\]: FFmpeg exited \(SIGKILL\)/, 10_000, from);
    await waitForStatus(client, 0, StreamingStatus.AVAILABLE);
    const toldMs = performance.now() - killedAt;
    await hb.waitForLog(/Main Cam: \[[0-9a-f]{8}\]: stream stopped after [\d.]+ s \(FFmpeg exited/, 5000, from);
    await assertReaped(hb, viewer.pid);
    await waitForNoViewers(hb);
    assert.ok(await stream.waitForSilence(1000, 5000), 'no packets after the session ended');
    await stream.dispose();
    const nextMs = await viewerWorks(client, hb, streams);
    console.log(`viewer FFmpeg SIGKILL: HomeKit told (status available) ${toldMs.toFixed(0)} ms after the kill; next viewer decoding in ${nextMs.toFixed(0)} ms`);
  });

  it('camera-feed FFmpeg SIGKILLed: both viewers keep their sessions and resume on the restarted feed, no zombie', async () => {
    const second = HapCameraClient.connect({ port: client.port, pairing: client.pairing });
    try {
      const a = await client.startStream({ ...VIEW, streamIndex: 0 });
      const b = await second.startStream({ ...VIEW, streamIndex: 1 });
      streams.push(a, b);
      await Promise.all([a.waitForFrames(10, 20_000), b.waitForFrames(10, 20_000)]);
      assert.equal(viewerFfmpegs(hb.pid).length, 2);
      const feeds = feedFfmpegs(hb.pid, main.port);
      assert.equal(feeds.length, 1, `one camera feed FFmpeg for Main Cam: ${JSON.stringify(feeds.map((p) => p.args))}`);
      const feed = feeds[0];
      assert.ok(feed);
      const from = hb.logs.length;
      const killedAt = performance.now();
      process.kill(feed.pid, 'SIGKILL');
      // A drop under 15 s keeps the sessions (issue 11): each viewer gets a fresh FFmpeg on the restarted feed.
      const framesBefore = [a, b].map((s) => s.depacketizer.stats.accessUnits);
      await waitFor(() => hb.logs.slice(from).filter((l) => /Main Cam: \[[0-9a-f]{8}\]: camera feed back/.test(l)).length >= 2, {
        timeoutMs: 15_000, what: `both viewers back on the restarted feed (log:\n${hb.tail()})`,
      });
      await waitFor(() => [a, b].every((s, i) => s.depacketizer.stats.accessUnits >= (framesBefore[i] ?? 0) + 15), { timeoutMs: 15_000, what: 'frames after the restart' });
      const backMs = performance.now() - killedAt;
      await assertReaped(hb, feed.pid);
      assert.ok(!hb.logs.slice(from).some((l) => /Main Cam: \[[0-9a-f]{8}\]: stream stopped/.test(l)), 'no session ended');
      for (const s of [a, b]) assert.equal(s.authFailures + s.replays + s.depacketizer.stats.gaps, 0, JSON.stringify(s.stats()));
      await Promise.all([a.stop(), b.stop()]);
      await waitForNoViewers(hb);
      console.log(`camera-feed FFmpeg SIGKILL: 2 viewers kept their sessions, 15 frames each after the restart within ${backMs.toFixed(0)} ms`);
    } finally {
      await second.close();
    }
  });

  it('camera reboot mid-stream (~4 s): the viewer keeps its session and resumes, health offline then online', async () => {
    await rec.waitFor('cctv/main/status', (p) => p === 'online', 20_000);
    const stream = await client.startStream({ ...VIEW });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    const fromLog = hb.logs.length;
    const fromMsg = rec.messages.length;
    await main.kill();
    const killedAt = performance.now();

    await hb.waitForLog(/Main Cam: \[[0-9a-f]{8}\]: camera feed lost/, 15_000, fromLog);
    const endedMs = performance.now() - killedAt;

    // The camera is down for ~4 s, then answers on the same port again.
    await delay(Math.max(0, 4000 - (performance.now() - killedAt)));
    await main.startAgain();
    const backAt = performance.now();

    const offline = await rec.waitFor('cctv/main/status', (p) => p === 'offline', 15_000, fromMsg);
    const offlineIndex = rec.messages.indexOf(offline);
    const online = await rec.waitFor('cctv/main/status', (p) => p === 'online', 20_000, offlineIndex + 1);
    const onlineMs = online.at - backAt;
    const health = rec.lastJson<Health>('cctv/main/health');
    assert.equal(health?.state, 'online');

    await hb.waitForLog(/Main Cam: \[[0-9a-f]{8}\]: camera feed back/, 20_000, fromLog);
    const framesAt = stream.depacketizer.stats.accessUnits;
    await waitFor(() => stream.depacketizer.stats.accessUnits >= framesAt + 15, { timeoutMs: 15_000, what: 'frames after the reboot' });
    const recoveryMs = performance.now() - backAt;
    assert.ok(!hb.logs.slice(fromLog).some((l) => /Main Cam: \[[0-9a-f]{8}\]: stream stopped/.test(l)), 'the session stayed');
    assert.equal(stream.authFailures + stream.replays + stream.depacketizer.stats.gaps, 0, JSON.stringify(stream.stats()));
    await stream.stop();
    await waitForNoViewers(hb);
    console.log(`camera reboot: viewer saw the feed lost ${endedMs.toFixed(0)} ms after the kill; `
      + `MQTT offline ${seconds(offline.at - killedAt)} s after the kill; camera back → MQTT online ${seconds(onlineMs)} s; `
      + `→ the same viewer decoding again ${seconds(recoveryMs)} s after`);
    assert.ok(onlineMs <= 15_000, `online ${onlineMs.toFixed(0)} ms after the camera came back`);
  });

  it('a dead prebuffered camera is retried with staged, capped, jittered backoff, then streams again', { timeout: 180_000 }, async () => {
    await rec.waitFor('cctv/retry/status', (p) => p === 'online', 20_000);
    await waitFor(() => feedFfmpegs(hb.pid, retry.port).length === 1, { timeoutMs: 10_000, what: 'the prebuffered feed running' });
    const port = retry.port;
    const fromLog = hb.logs.length;
    await retry.kill();
    // The camera's port now accepts and hangs up (RTSP service not up yet), counting who knocks.
    const knocks = await KnockCounter.listen(port);
    const t0 = performance.now();
    let backAt: number;
    try {
      await delay(30_000);
      const restarts = hb.logs.slice(fromLog)
        .map((l) => /Retry Cam: camera feed restarts in (\d+) ms \(attempt (\d+)\)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ delay: Number(m[1]), attempt: Number(m[2]) }));
      const ffmpegKnocks = knocks.times('ffmpeg');
      const gaps = ffmpegKnocks.slice(1).map((t, i) => Math.round(t - (ffmpegKnocks[i] ?? t)));
      console.log(`backoff over ${seconds(performance.now() - t0)} s: ${ffmpegKnocks.length} FFmpeg connection attempts `
        + `(${knocks.count('probe')} health probes); scheduled delays ${JSON.stringify(restarts.map((r) => r.delay))} ms; `
        + `gaps between attempts ${JSON.stringify(gaps)} ms`);
      assert.ok(ffmpegKnocks.length >= 3, `FFmpeg kept retrying: ${ffmpegKnocks.length} attempts`);
      assert.ok(ffmpegKnocks.length <= 10, `no spin: ${ffmpegKnocks.length} attempts in 30 s`);
      assert.ok(restarts.length >= 3 && restarts.length <= 10, `restarts scheduled: ${restarts.length}`);
      assert.equal(restarts[0]?.attempt, 1, 'the backoff starts from its first stage');
      for (const r of restarts) {
        const stage = BACKOFF_STAGES_MS[Math.min(r.attempt - 1, BACKOFF_STAGES_MS.length - 1)] ?? 10_000;
        assert.ok(r.delay >= stage * 0.8 - 1 && r.delay <= stage * 1.2 + 1, `attempt ${r.attempt}: ${r.delay} ms is not ${stage} ms ±20%`);
      }
      for (let i = 1; i < restarts.length; i++) {
        assert.equal(restarts[i]?.attempt, (restarts[i - 1]?.attempt ?? 0) + 1, 'attempts counted up');
      }
      assert.ok(Math.max(...restarts.map((r) => r.delay)) >= 8000 * 0.8, 'the delay grew to the slow stages');
      // What the camera sees agrees: the gaps between connections grow (within jitter) and stay capped.
      for (let i = 1; i < gaps.length; i++) {
        assert.ok((gaps[i] ?? 0) >= (gaps[i - 1] ?? 0) * 0.6, `gap ${i} shrank: ${JSON.stringify(gaps)}`);
      }
      assert.ok(Math.max(...gaps) <= 13_000, `gaps capped near 10 s: ${JSON.stringify(gaps)}`);
      assert.ok(hb.logs.slice(fromLog).some((l) => /Retry Cam: .*health \w+ → offline/.test(l)), 'health went offline');
    } finally {
      await knocks.close();
      const mark = retry.mark();
      await retry.startAgain();
      backAt = performance.now();
      await retry.waitForEvent((e) => e.event === 'session', 20_000, mark, 'the feed to reconnect');
    }
    const resumedMs = performance.now() - backAt;
    await rec.waitFor('cctv/retry/status', (p) => p === 'online', 20_000);
    const retryClient = await HapCameraClient.pair({ port: await hb.accessoryPort('Retry Cam'), pin: TEST_PIN });
    try {
      const viewerMs = await viewerWorks(retryClient, hb, streams);
      console.log(`backoff: camera back → feed reconnected ${seconds(resumedMs)} s; a viewer decodes in ${viewerMs.toFixed(0)} ms`);
    } finally {
      await retryClient.close();
    }
    assert.ok(resumedMs <= 15_000, `the feed reconnected ${resumedMs.toFixed(0)} ms after the camera came back`);
  });
});

describe('faults: SIGTERM with viewers and a prebuffered camera', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient | undefined;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ ...CAMERA });
    hb = await Homebridge.start({
      platform: {
        cameras: [
          { id: 'live', name: 'Live Cam', source: camera.url, video: { mode: 'copy', copySender: 'ffmpeg' } },
          { id: 'pre', name: 'Prebuffer Cam', source: camera.url, video: { mode: 'copy', copySender: 'ffmpeg' }, prebuffer: true },
        ],
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Live Cam'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await hb?.dispose();
    await camera?.stop();
  });

  it('every child process is gone within 5 s of SIGTERM', async () => {
    const c = client;
    assert.ok(c);
    const second = HapCameraClient.connect({ port: c.port, pairing: c.pairing });
    try {
      const a = await c.startStream({ ...VIEW, streamIndex: 0 });
      const b = await second.startStream({ ...VIEW, streamIndex: 1 });
      streams.push(a, b);
      await Promise.all([a.waitForFrames(10, 20_000), b.waitForFrames(10, 20_000)]);
      await waitFor(() => feedFfmpegs(hb.pid).length === 2, { timeoutMs: 10_000, what: 'Live Cam and Prebuffer Cam feeds' });
      const pid = hb.pid;
      assert.ok(pid);
      const children = descendants(pid);
      assert.equal(viewerFfmpegs(pid).length, 2);
      const t0 = performance.now();
      const stopping = hb.stop('SIGTERM', 10_000);
      let goneMs = Number.NaN;
      try {
        await waitFor(() => children.every((p) => !isAlive(p.pid) || processInfo(p.pid)?.args !== p.args), {
          timeoutMs: 10_000, intervalMs: 20, what: 'every child of Homebridge to exit',
        });
        goneMs = performance.now() - t0;
      } finally {
        await stopping;
      }
      const exitMs = performance.now() - t0;
      const left = children.filter((p) => isAlive(p.pid) && processInfo(p.pid)?.args === p.args);
      console.log(`SIGTERM with 2 viewers + a prebuffered camera: ${children.length} children (${children.map((p) => p.comm).join(', ')}) gone in ${goneMs.toFixed(0)} ms; Homebridge exited in ${exitMs.toFixed(0)} ms`);
      assert.deepEqual(left, []);
      assert.ok(goneMs <= 5000, `children gone ${goneMs.toFixed(0)} ms after SIGTERM`);
      assert.ok(children.filter((p) => p.comm === 'ffmpeg').length >= 4, `2 viewer + 2 feed FFmpegs: ${children.map((p) => p.args).join('\n')}`);
    } finally {
      await second.close();
    }
  });
});
