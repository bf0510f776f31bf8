/**
 * Fault injection, load: hundreds of stream start/stop cycles and snapshots must leak no FFmpeg,
 * no file descriptor and no memory; eight cameras, two of them broken, must not disturb each other,
 * and broken cameras left alone run no FFmpeg and are probed at the capped backoff (their CPU is a
 * figure for bench/, not an assertion here).
 *
 * CCTV_SOAK=1 multiplies the cycles by 10.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ffmpegDescendants, feedFfmpegs, treeCpuSeconds, viewerFfmpegs, zombieChildren } from '../helpers/fault-tools.js';
import { freePort } from '../helpers/free-port.js';
import { jpegInfo, looksLikeJpeg } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { openFdCount, rssBytes } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

const SOAK = process.env['CCTV_SOAK'] === '1' ? 10 : 1;
const STREAM_CYCLES = 200 * SOAK;
const SNAPSHOTS = 500 * SOAK;
// Long enough for RSS to reach its working size: measured after a GC, it rises ~45 MB over the first
// 100-150 stream cycles (native memory; the JS heap in use stays flat), then stays flat (500 cycles:
// 156.0 → 156.7 MB). Growth after the warm-up is what a leak would look like.
const WARMUP_CYCLES = 100;
const WARMUP_SNAPSHOTS = 50;
const GC_PROBE = fileURLToPath(new URL('../helpers/gc-probe.mjs', import.meta.url));
const VIEW = { width: 640, height: 360, fps: 15, bitrateKbps: 800 } as const;
const CAMERA = { width: 640, height: 360, fps: 15, gopSeconds: 1 } as const;
const MB = 1024 * 1024;

interface Health {
  state: string;
  reason: string | null;
}

/** Sizes 320x180 … 1318x742 (step 2), so most snapshots miss the 1 s fresh cache. */
function snapshotSize(i: number): [number, number] {
  const width = 320 + 2 * (i % 500);
  return [width, Math.round((width * 9) / 16 / 2) * 2];
}

describe('faults: start/stop cycles and snapshots leak nothing', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;

  before(async () => {
    camera = await RtspCamera.start({ ...CAMERA });
    // Homebridge inherits our environment: preload the GC probe into it (and only into it).
    const nodeOptions = process.env['NODE_OPTIONS'];
    // V8 grows its young generation (up to 2 × 32 MB here) whenever its heuristics say so, and keeps
    // the pages: tens of MB of RSS at a random point of the run that are not a leak. Capping the
    // semi-space at 16 MB makes RSS comparable between samples; the JS heap in use is checked too.
    process.env['NODE_OPTIONS'] = [nodeOptions, `--import=${GC_PROBE}`, '--max-semi-space-size=16'].filter(Boolean).join(' ');
    try {
      hb = await Homebridge.start({
        platform: {
          sourceLingerSeconds: 2,
          cameras: [{ id: 'cycle', name: 'Cycle Cam', source: camera.url, video: { mode: 'copy', copySender: 'ffmpeg' } }],
        },
      });
    } finally {
      if (nodeOptions === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = nodeOptions;
    }
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Cycle Cam'), pin: TEST_PIN });
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await hb?.dispose();
    await camera?.stop();
  });

  /** START → first frames (an IDR and a few more) → STOP; the viewer's FFmpeg must be gone after. */
  async function streamCycle(i: number): Promise<number> {
    const t0 = performance.now();
    const stream: StreamHandle = await client.startStream({ ...VIEW });
    try {
      await waitFor(() => stream.firstIdrMs !== undefined && stream.depacketizer.stats.accessUnitsSinceIdr >= 3, {
        timeoutMs: 15_000, intervalMs: 20, what: `cycle ${i}: first frames (${JSON.stringify(stream.stats())})`,
      });
      if (i % 50 === 0) {
        const decoded = await stream.decode();
        assert.ok(decoded.frames >= 1, `cycle ${i}: frames decode`);
      }
      assert.equal(stream.authFailures, 0);
      await stream.stop();
    } finally {
      await stream.dispose();
    }
    await waitFor(() => viewerFfmpegs(hb.pid).length === 0, { timeoutMs: 5000, what: `cycle ${i}: the viewer FFmpeg to exit` });
    return performance.now() - t0;
  }

  async function snapshot(i: number): Promise<number> {
    const [width, height] = snapshotSize(i);
    const shot = await client.snapshot(width, height);
    assert.ok(looksLikeJpeg(shot.jpeg), `snapshot ${i} (${width}x${height}) is a JPEG`);
    if (i % 50 === 0) {
      const info = await jpegInfo(shot.jpeg);
      assert.deepEqual([info.width, info.height], [width, height], `snapshot ${i} size`);
    }
    return shot.ms;
  }

  interface Sample { fds: number; rss: number; heapUsed: number }

  /** Idle point (the feed has lingered out, no FFmpeg at all), measured right after a full GC. */
  async function sampleIdle(what: string): Promise<Sample> {
    await waitFor(() => ffmpegDescendants(hb.pid).length === 0, { timeoutMs: 15_000, what: `${what}: every FFmpeg gone (linger over)` });
    await delay(500);
    const pid = hb.pid;
    assert.ok(pid);
    const from = hb.logs.length;
    process.kill(pid, 'SIGWINCH');
    const line = await hb.waitForLog(/MEMSTAT \{/, 10_000, from);
    const stat = JSON.parse(line.slice(line.indexOf('{'))) as { heapUsed: number };
    return { fds: openFdCount(pid), rss: rssBytes(pid), heapUsed: stat.heapUsed };
  }

  const mb = (bytes: number): string => (bytes / MB).toFixed(1);
  const growth = (a: Sample, b: Sample): string =>
    `fds ${a.fds} → ${b.fds}, RSS ${mb(a.rss)} → ${mb(b.rss)} MB (${mb(b.rss - a.rss)}), heap used ${mb(a.heapUsed)} → ${mb(b.heapUsed)} MB`;

  it(`${STREAM_CYCLES} stream cycles and ${SNAPSHOTS} snapshots: 0 FFmpeg left, fds and RSS flat`, { timeout: SOAK > 1 ? 6 * 3600_000 : 1800_000 }, async () => {
    const start = await sampleIdle('at start');
    for (let i = 0; i < WARMUP_CYCLES; i++) await streamCycle(i);
    // Warm-up snapshots span the whole size range (every 10th size).
    for (let i = 0; i < WARMUP_SNAPSHOTS; i++) await snapshot(i * 10);
    const warm = await sampleIdle('after warm-up');

    const started = performance.now();
    const cycleMs: number[] = [];
    for (let i = WARMUP_CYCLES; i < STREAM_CYCLES; i++) {
      cycleMs.push(await streamCycle(i));
      if (i % 50 === 0) console.log(`  cycle ${i}: fds ${openFdCount(hb.pid ?? 0)}, rss ${mb(rssBytes(hb.pid ?? 0))} MB (no GC)`);
    }
    const afterStreams = await sampleIdle('after the stream cycles');
    const snapMs: number[] = [];
    for (let i = WARMUP_SNAPSHOTS; i < SNAPSHOTS; i++) {
      snapMs.push(await snapshot(i));
      if (i % 100 === 0) console.log(`  snapshot ${i}: fds ${openFdCount(hb.pid ?? 0)}, rss ${mb(rssBytes(hb.pid ?? 0))} MB (no GC)`);
    }
    const end = await sampleIdle('at the end');
    const zombies = zombieChildren(hb.pid);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    console.log(`${STREAM_CYCLES} stream cycles (median ${median(cycleMs).toFixed(0)} ms each) and ${SNAPSHOTS} snapshots (median ${median(snapMs).toFixed(0)} ms) `
      + `in ${((performance.now() - started) / 1000).toFixed(0)} s after warm-up; FFmpeg left 0, zombies ${zombies.length}\n`
      + `  warm-up (${WARMUP_CYCLES} cycles, ${WARMUP_SNAPSHOTS} snapshots): ${growth(start, warm)}\n`
      + `  stream cycles: ${growth(warm, afterStreams)}\n  snapshots: ${growth(afterStreams, end)}\n  measured total (after GC): ${growth(warm, end)}`);
    assert.equal(ffmpegDescendants(hb.pid).length, 0);
    assert.deepEqual(zombies, []);
    assert.ok(end.fds - warm.fds <= 5, `fds grew ${warm.fds} → ${end.fds}`);
    assert.ok(end.heapUsed - warm.heapUsed < 10 * MB, `JS heap in use grew ${mb(end.heapUsed - warm.heapUsed)} MB`);
    assert.ok(end.rss - warm.rss < 50 * MB, `RSS grew ${mb(end.rss - warm.rss)} MB`);
    assert.ok(hb.running);
  });
});

describe('faults: eight cameras, two broken', () => {
  let broker: Mosquitto;
  let rec: MqttRecorder;
  let camera: RtspCamera;
  let closedPort: number;
  const GOOD = [1, 2, 3, 4, 5, 6].map((n) => ({ id: `good-${n}`, name: `Good ${n}` }));
  const PASSWORD = 'eight-cams';

  before(async () => {
    broker = await Mosquitto.start();
    rec = await MqttRecorder.connect(broker.url, ['cctv/#']);
    camera = await RtspCamera.start({ ...CAMERA, user: 'admin', password: PASSWORD });
    closedPort = await freePort();
  });

  after(async () => {
    await rec?.close().catch(() => undefined);
    await camera?.stop();
    await broker?.stop();
  });

  function brokenCameras(): Record<string, unknown>[] {
    return [
      { id: 'unreachable', name: 'Unreachable', source: `rtsp://127.0.0.1:${closedPort}/x`, video: { mode: 'copy' } },
      { id: 'wrong-pass', name: 'Wrong Pass', source: camera.urlWithCredentials('admin', 'not-it'), video: { mode: 'copy' } },
    ];
  }

  async function waitForBrokenReported(from: number): Promise<void> {
    await waitFor(() => {
      const u = rec.messages.slice(from).filter((m) => m.topic === 'cctv/unreachable/health').at(-1);
      const w = rec.messages.slice(from).filter((m) => m.topic === 'cctv/wrong-pass/health').at(-1);
      const uh = u ? (JSON.parse(u.payload) as Health) : undefined;
      const wh = w ? (JSON.parse(w.payload) as Health) : undefined;
      return uh?.state === 'offline' && uh.reason === 'unreachable' && wh?.state === 'offline' && wh.reason === 'unauthorized';
    }, { timeoutMs: 30_000, what: `broken cameras offline (unreachable: ${rec.last('cctv/unreachable/health')?.payload}, wrong-pass: ${rec.last('cctv/wrong-pass/health')?.payload})` });
  }

  it('six good cameras stream at once while the unreachable and the unauthorized one are reported', { timeout: 300_000 }, async () => {
    const from = rec.messages.length;
    const hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 2,
        cameras: [...GOOD.map((g) => ({ ...g, source: camera.url, video: { mode: 'copy', copySender: 'ffmpeg' } })), ...brokenCameras()],
        mqtt: { url: broker.url, topicPrefix: 'cctv' },
      },
    });
    const clients: HapCameraClient[] = [];
    const streams: StreamHandle[] = [];
    try {
      for (const g of GOOD) clients.push(await HapCameraClient.pair({ port: await hb.accessoryPort(g.name), pin: TEST_PIN }));
      const t0 = performance.now();
      // Three at a time; the first three keep streaming while the next three start.
      for (const batch of [[0, 1, 2], [3, 4, 5]]) {
        const started = await Promise.all(batch.map((i) => clients[i]?.startStream({ ...VIEW }) ?? Promise.resolve(undefined)));
        for (const s of started) if (s) streams.push(s);
        await Promise.all(started.map((s) => s?.waitForFrames(10, 30_000) ?? Promise.resolve()));
      }
      const allMs = performance.now() - t0;
      assert.equal(streams.length, 6);
      // All six are still flowing together: each decodes more frames from now on.
      const marks = streams.map((s) => s.depacketizer.stats.accessUnits);
      await waitFor(() => streams.every((s, i) => s.depacketizer.stats.accessUnits >= (marks[i] ?? 0) + 15), {
        timeoutMs: 15_000, what: 'all six viewers receiving frames at once',
      });
      const decoded = await Promise.all(streams.map((s) => s.decode()));
      for (const [i, d] of decoded.entries()) {
        assert.deepEqual([d.width, d.height], [CAMERA.width, CAMERA.height], `Good ${i + 1} picture`);
        assert.ok(d.frames >= 20, `Good ${i + 1} decoded ${d.frames} frames`);
        assert.equal(streams[i]?.authFailures, 0);
      }
      assert.equal(viewerFfmpegs(hb.pid).length, 6);
      assert.equal(feedFfmpegs(hb.pid, camera.port).length, 6, 'one feed per good camera');

      await waitForBrokenReported(from);
      for (const g of GOOD) {
        const h = await waitFor(() => {
          const v = rec.lastJson<Health>(`cctv/${g.id}/health`);
          return v?.state === 'online' ? v : undefined;
        }, { timeoutMs: 20_000, what: `${g.id} online (${rec.last(`cctv/${g.id}/health`)?.payload})` });
        assert.equal(h.state, 'online');
        assert.equal(rec.last(`cctv/${g.id}/status`)?.payload, 'online');
      }
      assert.equal(rec.last('cctv/unreachable/status')?.payload, 'offline');
      assert.equal(rec.last('cctv/wrong-pass/status')?.payload, 'offline');
      assert.ok(hb.logs.some((l) => /Unreachable: health .*→ offline \(unreachable\)/.test(l)), 'unreachable logged');
      assert.ok(hb.logs.some((l) => /Wrong Pass: health .*→ offline \(unauthorized\)/.test(l)), 'unauthorized logged');
      assert.ok(!hb.logs.join('\n').includes('not-it'), 'the wrong password is redacted');
      console.log(`8 cameras: 6 viewers decoding (all started and decoding within ${(allMs / 1000).toFixed(1)} s, ${decoded.map((d) => d.frames).join('/')} frames), `
        + `unreachable and unauthorized reported offline, the 6 good ones online`);

      await Promise.all(streams.map((s) => s.stop()));
      await waitFor(() => viewerFfmpegs(hb.pid).length === 0, { timeoutMs: 10_000, what: 'every viewer FFmpeg to exit' });
    } finally {
      for (const s of streams) await s.dispose().catch(() => undefined);
      for (const c of clients) await c.close().catch(() => undefined);
      await hb.dispose();
    }
  });

  it('the two broken cameras alone, idle, run no FFmpeg and are probed at the capped backoff', { timeout: 120_000 }, async () => {
    const from = rec.messages.length;
    const hb = await Homebridge.start({
      platform: { cameras: brokenCameras(), mqtt: { url: broker.url, topicPrefix: 'cctv' } },
    });
    try {
      await waitForBrokenReported(from);
      await delay(2000);
      const pid = hb.pid;
      assert.ok(pid);
      const window = 20_000;
      const cpu0 = treeCpuSeconds(pid);
      const mark = camera.mark();
      const t0 = performance.now();
      let maxFfmpeg = 0;
      while (performance.now() - t0 < window) {
        maxFfmpeg = Math.max(maxFfmpeg, ffmpegDescendants(pid).length);
        await delay(250);
      }
      const cpu = treeCpuSeconds(pid) - cpu0;
      const share = cpu / ((performance.now() - t0) / 1000);
      console.log(`2 broken cameras idle: ${(cpu * 1000).toFixed(0)} ms CPU in ${((performance.now() - t0) / 1000).toFixed(1)} s = ${(share * 100).toFixed(2)}% of one core (Homebridge + children), FFmpeg running at most ${maxFfmpeg}`);
      assert.equal(maxFfmpeg, 0, 'no FFmpeg for idle broken cameras');
      // A refused password sends the probe straight to the 10 s cap (−20 % jitter at most): at most
      // three probes in 20 s, each with one wrong-credential attempt. More would be hammering a
      // camera that may lock the account.
      const wrong = camera.authFailures({ withCredentials: true, since: mark });
      console.log(`wrong-password probes in ${(window / 1000).toFixed(0)} s: ${wrong}`);
      assert.ok(wrong >= 1 && wrong <= 3, `wrong-password attempts in the window: ${wrong}`);
    } finally {
      await hb.dispose();
    }
  });
});
