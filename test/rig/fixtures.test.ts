// Self-tests of the real-parts rig: the GStreamer RTSP camera and the
// mosquitto broker, driven by real ffprobe/ffmpeg and MQTT.js clients.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';

import mqtt from 'mqtt';

import { Mosquitto } from '../helpers/mosquitto.js';
import { descendants, isAlive } from '../helpers/processes.js';
import { CAMERA_PYTHON, CAMERA_SCRIPT, RtspCamera } from '../helpers/rtsp-camera.js';
import type { CameraEvent } from '../helpers/rtsp-camera.js';
import { delay, waitFor, withTimeout } from '../helpers/wait.js';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a tool to completion, SIGKILLed after `timeoutMs`. */
function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type Transport = 'tcp' | 'udp';

async function probeStreams(url: string, transport: Transport = 'tcp'): Promise<RunResult> {
  // -timeout: socket I/O bound (µs), so a stalled stream fails with a message.
  return run('ffprobe', ['-v', 'error', '-timeout', '10000000', '-rtsp_transport', transport, '-show_entries',
    'stream=codec_type,codec_name,width,height,sample_rate', '-of', 'json', url]);
}

interface StreamInfo {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_rate?: string;
}

/** Parse ffprobe's JSON; on failure quote the camera's view to explain it. */
function streamsOf(result: RunResult, cam?: RtspCamera): StreamInfo[] {
  const context = cam === undefined ? '' : `\ncamera events: ${JSON.stringify(cam.events.filter((e) => e.event !== 'keyframe').slice(-30))}\ncamera stderr: ${cam.stderr}`;
  assert.equal(result.code, 0, `ffprobe exited ${String(result.code)}: ${result.stderr}${context}`);
  return (JSON.parse(result.stdout) as { streams: StreamInfo[] }).streams;
}

/** Video packets a viewer received in its first `seconds` of stream time. */
async function readPackets(url: string, transport: Transport, seconds: number): Promise<{ pts: number; key: boolean }[]> {
  const result = await run('ffprobe', ['-v', 'error', '-rtsp_transport', transport, '-select_streams', 'v:0',
    '-show_entries', 'packet=pts_time,flags', '-of', 'compact=p=0:nk=1', '-read_intervals', `%+${seconds}`, url]);
  assert.equal(result.code, 0, `ffprobe (${transport}) failed: ${result.stderr}`);
  return result.stdout.split('\n')
    .map((line) => line.split('|'))
    .filter((f) => f.length >= 2 && f[0] !== 'N/A' && f[0] !== '')
    .map((f) => ({ pts: Number(f[0]), key: (f[1] ?? '').startsWith('K') }));
}

const spawnedPids = new Set<number>();
function track(pid: number | undefined): void {
  if (pid !== undefined) spawnedPids.add(pid);
}

after(async () => {
  // Nothing the rig started may outlive the tests.
  const leftovers = await waitFor(
    () => {
      const rigChildren = descendants(process.pid).filter((p) => /python|ffmpeg|ffprobe|mosquitto/.test(p.comm));
      const alive = [...spawnedPids].filter(isAlive);
      return rigChildren.length === 0 && alive.length === 0 ? [] : false;
    },
    { timeoutMs: 5000, what: 'rig processes to exit' },
  ).catch(() => descendants(process.pid).map((p) => `${p.pid} ${p.args}`));
  assert.deepEqual(leftovers, [], 'processes left behind');
});

describe('RTSP camera fixture', () => {
  it('serves the configured H.264 stream and counts one viewer', async () => {
    const cam = await RtspCamera.start({ width: 640, height: 360 });
    track(cam.pid);
    try {
      console.log(`camera start (spawn -> ready): ${cam.startupMs.toFixed(0)} ms`);
      assert.match(cam.url, /^rtsp:\/\/127\.0\.0\.1:\d+\/stream$/);
      const mark = cam.mark();
      const streams = streamsOf(await probeStreams(cam.url, 'tcp'), cam);
      assert.deepEqual(streams, [{ codec_type: 'video', codec_name: 'h264', width: 640, height: 360 }]);
      await waitFor(() => cam.activeSessions() === 0, { timeoutMs: 5000, what: 'session teardown' });
      assert.equal(cam.connections(mark), 1);
      assert.equal(cam.requests('DESCRIBE', mark), 1);
      assert.equal(cam.requests('SETUP', mark), 1);
      assert.equal(cam.requests('PLAY', mark), 1);
      assert.equal(cam.requests('TEARDOWN', mark), 1);
      assert.equal(cam.sessionsOpened(mark), 1);
      assert.equal(cam.authFailures({ since: mark }), 0);
    } finally {
      await cam.stop();
    }
  });

  it('adds a PCMA audio track on request', async () => {
    const cam = await RtspCamera.start({ width: 320, height: 240, audio: true });
    track(cam.pid);
    try {
      const streams = streamsOf(await probeStreams(cam.url, 'udp'), cam);
      assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['h264', 'pcm_alaw']);
      assert.equal(streams.find((s) => s.codec_type === 'audio')?.sample_rate, '8000');
    } finally {
      await cam.stop();
    }
  });

  it('serves an H.265 main and an H.264 substream from one process, behind the same login; sessions are counted per mount', async () => {
    const cam = await RtspCamera.start({ codec: 'h265', width: 640, height: 360, fps: 5, user: 'admin', password: 'pw', sub: { width: 320, height: 180 } });
    track(cam.pid);
    try {
      assert.match(cam.subUrl, /^rtsp:\/\/admin:pw@127\.0\.0\.1:\d+\/sub$/);
      const mark = cam.mark();
      assert.deepEqual(streamsOf(await probeStreams(cam.subUrl), cam), [{ codec_type: 'video', codec_name: 'h264', width: 320, height: 180 }]);
      assert.equal(cam.sessionsOpened(mark, cam.subPath), 1);
      assert.equal(cam.sessionsOpened(mark, cam.path), 0);
      assert.deepEqual(streamsOf(await probeStreams(cam.url), cam), [{ codec_type: 'video', codec_name: 'hevc', width: 640, height: 360 }]);
      assert.equal(cam.sessionsOpened(mark, cam.path), 1);
      await waitFor(() => cam.activeSessionsOn(cam.subPath) === 0 && cam.activeSessionsOn(cam.path) === 0, { timeoutMs: 5000, what: 'session teardown' });
      assert.equal(cam.sessionsOpened(mark), 2);
      assert.notEqual((await probeStreams(cam.subUrl.replace('admin:pw@', ''))).code, 0, 'the substream needs the login too');
    } finally {
      await cam.stop();
    }
  });

  it('serves 3 simultaneous viewers (TCP and UDP) from one running encoder; joiners wait for its next keyframe', async () => {
    const fps = 15;
    const gopSeconds = 2;
    const cam = await RtspCamera.start({ width: 640, height: 360, fps, gopSeconds });
    track(cam.pid);
    try {
      const mark = cam.mark();
      // Join at fixed offsets after a keyframe so the expected waits differ.
      const kf = await cam.waitForEvent((e) => e.event === 'keyframe', 5000, mark, 'a keyframe');
      const plan: { offsetMs: number; transport: Transport }[] = [
        { offsetMs: 100, transport: 'tcp' },
        { offsetMs: 700, transport: 'udp' },
        { offsetMs: 1300, transport: 'tcp' },
      ];
      const viewers = plan.map(async ({ offsetMs, transport }) => {
        await delay(Math.max(0, kf.receivedAt + offsetMs - performance.now()));
        return readPackets(cam.url, transport, 4);
      });
      const packets = await Promise.all(viewers);

      // Client side: stream time from first packet to first keyframe.
      const clientWaits = packets.map((list, i) => {
        const first = list[0];
        const key = list.find((p) => p.key);
        assert.ok(first !== undefined && key !== undefined, `viewer ${i} got no keyframe`);
        return key.pts - first.pts;
      });
      // Camera side: PLAY -> next keyframe the running encoder produced.
      const plays = cam.eventsSince(mark, 'request').filter((e) => e['method'] === 'PLAY');
      assert.equal(plays.length, 3);
      const keyframes = cam.keyframes(mark);
      const serverWaits = plays.map((play) => {
        const next = keyframes.find((k) => k.t >= play.t);
        assert.ok(next !== undefined, 'no keyframe after PLAY');
        return next.t - play.t;
      });
      console.log(`PLAY -> first IDR, camera side (s): ${serverWaits.map((w) => w.toFixed(3)).join(', ')}`);
      console.log(`first packet -> first IDR, viewer side (s): ${clientWaits.map((w) => w.toFixed(3)).join(', ')}`);

      for (const w of [...serverWaits, ...clientWaits]) assert.ok(w >= 0 && w <= gopSeconds + 0.5, `wait ${w} s outside [0, GOP]`);
      assert.ok(Math.max(...serverWaits) > 0.2, 'every joiner got a keyframe at once: encoder restarted per client?');
      assert.ok(Math.max(...clientWaits) > 0.2, 'viewers never waited for a keyframe');

      // The encoder never restarted: keyframes stay exactly one GOP apart.
      const gop = fps * gopSeconds;
      const all = cam.keyframes();
      for (const k of all) assert.equal((Number(k['frame']) - 1) % gop, 0, `extra keyframe at frame ${String(k['frame'])}`);
      assert.deepEqual(all.map((k) => Number(k['n'])), all.map((_k, i) => i + 1));

      // One shared media served all three; the camera saw 3 sessions at once.
      const peak = Math.max(...cam.eventsSince(mark, 'session').map((e) => Number(e['active'])));
      assert.equal(peak, 3);
      assert.equal(cam.sessionsOpened(mark), 3);
      assert.equal(cam.connections(mark), 3);
      const configured = cam.eventsSince(mark, 'media').filter((e: CameraEvent) => e['state'] === 'configured');
      assert.equal(configured.length, 1, 'viewers should share one media');
    } finally {
      await cam.stop();
    }
  });

  for (const authMethods of [['basic'], ['digest'], undefined] as const) {
    const label = authMethods?.join('+') ?? 'basic+digest';
    it(`requires credentials (${label}): wrong password gets 401, right one plays`, async () => {
      const cam = await RtspCamera.start({
        width: 320, height: 240, gopSeconds: 1, user: 'admin', password: 'p@ss:w/rd',
        authMethods: authMethods && [...authMethods],
      });
      track(cam.pid);
      try {
        assert.equal(cam.url, cam.urlWithCredentials('admin', 'p@ss:w/rd'));
        let mark = cam.mark();
        const wrong = await probeStreams(cam.urlWithCredentials('admin', 'nope'));
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /401/);
        assert.ok(cam.authFailures({ withCredentials: true, since: mark }) >= 1);
        const scheme = cam.eventsSince(mark, 'auth-failed').find((e) => e['credentials'] === true)?.['scheme'];
        // FFmpeg prefers Digest when both are offered.
        assert.equal(scheme, authMethods?.[0] === 'basic' ? 'Basic' : 'Digest');
        assert.equal(cam.sessionsOpened(mark), 0);

        mark = cam.mark();
        const none = await probeStreams(cam.urlWithoutCredentials);
        assert.notEqual(none.code, 0);
        assert.match(none.stderr, /401/);
        assert.equal(cam.authFailures({ withCredentials: true, since: mark }), 0);
        assert.ok(cam.errorResponses(401, mark) >= 1);

        mark = cam.mark();
        assert.equal(streamsOf(await probeStreams(cam.url), cam)[0]?.codec_name, 'h264');
        assert.equal(cam.sessionsOpened(mark), 1);
      } finally {
        await cam.stop();
      }
    });
  }

  it('restarts on the same port, and comes back after a SIGKILL with a viewer attached', async () => {
    const cam = await RtspCamera.start({ width: 320, height: 240, gopSeconds: 1 });
    track(cam.pid);
    try {
      const { port } = cam;
      const firstPid = cam.pid;
      await cam.restart();
      track(cam.pid);
      assert.equal(cam.port, port);
      assert.notEqual(cam.pid, firstPid);
      assert.equal(isAlive(firstPid ?? -1), false);
      assert.equal(streamsOf(await probeStreams(cam.url), cam)[0]?.codec_name, 'h264');
      assert.equal(cam.eventsSince(0, 'ready').map((e) => e.run).join(), '1,2');

      // Power loss mid-stream: the viewer's connection dies with the camera.
      const mark = cam.mark();
      const viewer = run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', cam.url, '-f', 'null', '-'], 20_000);
      await cam.waitForEvent((e) => e.event === 'request' && e['method'] === 'PLAY', 10_000, mark, 'viewer PLAY');
      const secondPid = cam.pid;
      await cam.kill();
      assert.equal(cam.running, false);
      assert.equal(isAlive(secondPid ?? -1), false);
      await withTimeout(viewer, 15_000, 'viewer to notice the camera died');
      const down = await probeStreams(cam.url);
      assert.notEqual(down.code, 0, 'a dead camera must refuse connections');

      await cam.startAgain();
      track(cam.pid);
      assert.equal(cam.port, port);
      assert.equal(streamsOf(await probeStreams(cam.url), cam)[0]?.codec_name, 'h264');
    } finally {
      await cam.stop();
    }
  });

  it('exits on its own when its stdin closes (test runner died)', async () => {
    const child = spawn(CAMERA_PYTHON, [CAMERA_SCRIPT, '--port', '0', '--width', '160', '--height', '120'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    track(child.pid);
    try {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      await waitFor(() => out.includes('"ready"'), { timeoutMs: 15_000, what: 'camera ready' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.stdin.end();
      assert.equal(await withTimeout(exited, 5000, 'camera exit after stdin EOF'), 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('mosquitto fixture', () => {
  it('authenticates users, relays messages and restarts on the same port', async () => {
    const broker = await Mosquitto.start({ users: { cctv: 's3cret' } });
    track(broker.pid);
    try {
      assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
      const connect = (username?: string, password?: string): Promise<mqtt.MqttClient> =>
        withTimeout(mqtt.connectAsync(broker.url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 }, false),
          10_000, 'MQTT connect');

      const client = await connect('cctv', 's3cret');
      try {
        await client.subscribeAsync('cctv/rig/#');
        const received = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
        await client.publishAsync('cctv/rig/hello', 'world');
        assert.equal(await withTimeout(received, 5000, 'MQTT message'), 'world');
      } finally {
        await client.endAsync();
      }

      await assert.rejects(connect('cctv', 'wrong'), /Not authorized|Bad username or password/i);
      await assert.rejects(connect(), /Not authorized|Bad username or password/i);

      const { port } = broker;
      const firstPid = broker.pid;
      await broker.restart();
      track(broker.pid);
      assert.equal(broker.port, port);
      assert.notEqual(broker.pid, firstPid);
      const again = await connect('cctv', 's3cret');
      await again.endAsync();
    } finally {
      await broker.stop();
    }
  });

  it('allows anonymous clients when no users are configured, and survives kill + start', async () => {
    const broker = await Mosquitto.start();
    track(broker.pid);
    try {
      const client = await withTimeout(mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false), 10_000, 'MQTT connect');
      await client.endAsync();
      await broker.kill();
      assert.equal(broker.running, false);
      await broker.startAgain();
      track(broker.pid);
      const again = await withTimeout(mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false), 10_000, 'MQTT reconnect');
      await again.endAsync();
    } finally {
      await broker.stop();
    }
  });
});
