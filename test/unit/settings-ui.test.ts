/**
 * The settings page's server side: the plain-words verdicts (table), the status file, the request
 * handlers against real files and a real (closed) loopback port, and homebridge-ui/server.js forked
 * over IPC exactly as homebridge-config-ui-x forks it. No reply may carry a configured password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ProbeResult } from '../../src/health/rtsp-probe.js';
import { explainConnection } from '../../src/ui/connection-verdict.js';
import { readStatusFile, StatusFile, statusFilePath } from '../../src/ui/status-file.js';
import { reconnectDelayMs, RetainedWatch } from '../../src/mqtt/retained-watch.js';
import type { HealthPayload } from '../../src/mqtt/payloads.js';
import { dashboardCameras } from '../../src/ui/dashboard-cameras.js';
import { parseHealth, UiRequestFailure, UiRequests } from '../../src/ui/ui-requests.js';
import { freePort } from '../helpers/free-port.js';
import { REPO_ROOT } from '../helpers/homebridge.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { TcpListener } from '../helpers/tcp-listener.js';
import { UiServer } from '../helpers/ui-server.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'Unit-Secret-93';

describe('explainConnection', () => {
  const failures: Array<[ProbeResult, RegExp]> = [
    [{ ok: false, reason: 'unauthorized', status: 401, message: 'RTSP DESCRIBE 401', ms: 5 }, /^Wrong user name or password$/],
    [{ ok: false, reason: 'not_found', status: 404, message: 'RTSP DESCRIBE 404', ms: 5 }, /^Wrong path/],
    [{ ok: false, reason: 'unreachable', message: 'connect ECONNREFUSED', ms: 5 }, /^Camera unreachable$/],
    [{ ok: false, reason: 'timeout', message: 'no answer in 5000 ms', ms: 5000 }, /^Camera unreachable/],
    [{ ok: false, reason: 'forbidden', status: 403, message: 'RTSP DESCRIBE 403', ms: 5 }, /refused this user/],
    [{ ok: false, reason: 'no_video', message: 'SDP without video', ms: 5 }, /no video/],
    [{ ok: false, reason: 'bad_response', message: 'not RTSP', ms: 5 }, /cannot use/],
  ];
  for (const [probe, headline] of failures) {
    it(`${probe.ok ? '' : probe.reason} → ${headline.source}`, () => {
      const verdict = explainConnection(probe, null);
      assert.equal(verdict.ok, false);
      assert.match(verdict.headline, headline);
      assert.equal(verdict.advice.length, 1);
    });
  }

  it('H.264 main stream: codec, profile, size, fps, audio; substream advice above 1280 px', () => {
    const verdict = explainConnection({
      ok: true, ms: 42,
      video: { codec: 'h264', width: 2560, height: 1440, fps: 20, sps: { codec: 'h264', profileIdc: 100, levelIdc: 51, chromaFormatIdc: 1, bitDepthLuma: 8, width: 2560, height: 1440 } },
      audio: { codec: 'pcma', sampleRate: 8000, channels: 1 },
    }, { ok: true, bytes: 40_960, ms: 300 });
    assert.equal(verdict.headline, 'Connected');
    assert.deepEqual(verdict.details, ['Video: H.264 High, 2560x1440, 20 fps', 'Audio: PCMA 8000 Hz, mono', 'Answered in 42 ms', 'Snapshot: 40 KiB in 300 ms']);
    assert.ok(verdict.advice.some((a) => /forwarded without re-encoding/.test(a)));
    assert.ok(verdict.advice.some((a) => /substream for the Apple Watch/.test(a)));
  });

  it('H.265: says live view will be transcoded; a failed picture is reported', () => {
    const verdict = explainConnection({ ok: true, ms: 10, video: { codec: 'h265', width: 1280, height: 720 } }, { ok: false, message: 'FFmpeg gave no picture (timeout)' });
    assert.match(verdict.advice.join('\n'), /H\.265: live view will be transcoded/);
    assert.match(verdict.advice.join('\n'), /no picture came out of it: FFmpeg gave no picture/);
    assert.ok(!verdict.advice.some((a) => /Apple Watch/.test(a)), 'not wider than 1280 px');
  });
});

describe('parseHealth (retained payloads anyone on the broker could have written)', () => {
  const good = { state: 'online', health: 'online', reason: null, since: 's', checkedAt: 'c', video: { codec: 'h264', width: 640, height: 360, fps: 15 }, viewers: 1, fps: 15, bitrateKbps: 900, restarts: 0, lastError: null, timeToFirstFrameMs: 700, decodeErrors: 3, decodeErrorsTotal: 12 };
  const cases: Array<[string, string | undefined, unknown]> = [
    ['nothing retained', undefined, null],
    ['an empty (cleared) payload', '', null],
    ['not JSON', '{oops', null],
    ['JSON but not an object', '"online"', null],
    ['an unknown state', JSON.stringify({ ...good, state: 'on fire' }), null],
    ['the plugin\'s payload', JSON.stringify(good), good],
    ['wrong field types become null / 0', JSON.stringify({ state: 'offline', fps: '15', viewers: 'many', video: { width: 1 }, lastError: 42, decodeErrors: 'lots' }),
      { state: 'offline', health: 'offline', reason: null, since: '', checkedAt: '', video: null, viewers: 0, fps: null, bitrateKbps: null, restarts: 0, lastError: null, timeToFirstFrameMs: null, decodeErrors: 0, decodeErrorsTotal: 0 }],
  ];
  for (const [name, payload, expected] of cases) {
    it(name, () => assert.deepEqual(parseHealth(payload === undefined ? undefined : Buffer.from(payload)), expected));
  }
});

describe('dashboardCameras: the broker\'s health per camera, else the status file\'s', () => {
  const h = (state: HealthPayload['state']): HealthPayload => ({ state, health: state, reason: null, since: 'x', checkedAt: 'x', video: null, viewers: 0, fps: null,
    bitrateKbps: null, restarts: 0, lastError: null, timeToFirstFrameMs: null, decodeErrors: 0, decodeErrorsTotal: 0 });
  const cams = [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }, { id: 'c', name: 'C' }];
  const file = (id: string): HealthPayload | null => (id === 'c' ? null : h('degraded'));
  const cases: [string, Map<string, HealthPayload | null> | null, ((id: string) => HealthPayload | null) | null, [string | null, string | null][]][] = [
    ['all on the broker', new Map([['a', h('online')], ['b', h('offline')], ['c', h('online')]]), file, [['online', 'mqtt'], ['offline', 'mqtt'], ['online', 'mqtt']]],
    ['b not retained: from the file; c in neither', new Map([['a', h('online')], ['b', null]]), file, [['online', 'mqtt'], ['degraded', 'file'], [null, null]]],
    ['broker not read: the file for all', null, file, [['degraded', 'file'], ['degraded', 'file'], [null, null]]],
    ['no file either', new Map(), null, [[null, null], [null, null], [null, null]]],
  ];
  for (const [name, broker, fromFile, want] of cases) {
    it(name, () => {
      assert.deepEqual(dashboardCameras(cams, broker, fromFile).map((c) => [c.health?.state ?? null, c.source]), want);
    });
  }
});

describe('RetainedWatch reconnect backoff', () => {
  it('doubles from the base and stays at the cap', () => {
    const b = { baseMs: 1000, capMs: 15_000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 100, -1].map((n) => reconnectDelayMs(n, b)), [1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 1000]);
  });
});

describe('config.schema.json layout', () => {
  interface SchemaNode { type?: string; properties?: Record<string, SchemaNode>; items?: SchemaNode }
  interface LayoutNode { key?: string; items?: (LayoutNode | string)[] }
  const doc = JSON.parse(readFileSync(join(REPO_ROOT, 'config.schema.json'), 'utf8')) as { customUi?: boolean; schema: SchemaNode; layout: LayoutNode[] };

  /** Leaf keys as the form spells them: `mqtt.tls.ca`, `cameras[].video.mode`. */
  function leaves(node: SchemaNode, prefix: string): string[] {
    if (node.type === 'array' && node.items?.properties) return leaves(node.items, `${prefix}[]`);
    if (node.type === 'object' && node.properties) {
      return Object.entries(node.properties).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
    }
    return [prefix];
  }
  function keys(items: (LayoutNode | string)[]): string[] {
    return items.flatMap((item) => typeof item === 'string' ? [item] : [
      ...(item.key && !item.items ? [item.key] : []),
      ...(item.items ? keys(item.items) : []),
    ]);
  }

  it('lists every schema field exactly once (a field missing from the layout is invisible in the form)', () => {
    assert.equal(doc.customUi, true);
    const inLayout = keys(doc.layout).filter((k) => k !== 'cameras[]');
    const fields = leaves(doc.schema, '');
    assert.deepEqual(fields.filter((f) => !inLayout.includes(f)), [], 'fields missing from the layout');
    assert.deepEqual(inLayout.filter((k) => !fields.includes(k)), [], 'layout keys without a schema field');
    assert.equal(new Set(inLayout).size, inLayout.length, 'no field listed twice');
  });
});

describe('status file and request handlers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-ui-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  const cameraUrl = (port: number): string => `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/stream1`;

  it('StatusFile writes once per burst, atomically, and reads back; garbage reads as null', async () => {
    const path = statusFilePath(dir);
    const errors: string[] = [];
    const file = new StatusFile({ path, pluginVersion: '9.9.9', delayMs: 20, onError: (m) => errors.push(m) });
    const health = { state: 'online', health: 'online', reason: null, since: 'x', checkedAt: 'x', video: null, viewers: 0, fps: null, bitrateKbps: null, restarts: 0, decodeErrors: 0, decodeErrorsTotal: 0, consecutiveFailures: 0, lastError: null, timeToFirstFrameMs: null } as const;
    file.update('a', { name: 'A', health });
    file.update('b', { name: 'B', health: { ...health, state: 'offline', health: 'offline', reason: 'unauthorized' } });
    assert.equal(readStatusFile(path), null, 'coalesced: nothing written yet');
    await new Promise((r) => setTimeout(r, 60));
    const doc = readStatusFile(path);
    assert.equal(doc?.pluginVersion, '9.9.9');
    assert.equal(doc?.pid, process.pid);
    assert.deepEqual(Object.keys(doc?.cameras ?? {}), ['a', 'b']);
    file.close();
    file.update('c', { name: 'C', health });
    assert.deepEqual(Object.keys(readStatusFile(path)?.cameras ?? {}), ['a', 'b'], 'closed: no more writes');
    assert.deepEqual(errors, []);
    writeFileSync(join(dir, 'junk.json'), '{not json');
    assert.equal(readStatusFile(join(dir, 'junk.json')), null);
    assert.equal(readStatusFile(join(dir, 'missing.json')), null);
  });

  it('status: every saved camera, with the plugin\'s health, redacted even if the file held a password', async () => {
    const port = await freePort();
    writeFileSync(configPath, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', cameras: [
      { id: 'a', name: 'A', source: cameraUrl(port) },
      { id: 'new-one', name: 'New', source: 'rtsp://127.0.0.1:1/x' },
    ] }] }));
    const path = statusFilePath(dir);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { cameras: Record<string, { health: { lastError: string | null } }> };
    doc.cameras.a!.health.lastError = `failed for ${cameraUrl(port)} with ${PASSWORD}`;
    writeFileSync(path, JSON.stringify(doc));
    const requests = new UiRequests({ storagePath: dir, configPath });
    const status = await requests.status();
    assert.equal(status.pluginRunning, true, 'the pid in the file is this process');
    assert.deepEqual(status.cameras.map((c) => [c.id, c.health?.state ?? null]), [['a', 'online'], ['new-one', null]]);
    assertNoSecrets([JSON.stringify(status)], [PASSWORD]);
    assert.match(status.cameras[0]!.health!.lastError!, /admin:\*\*\*@127\.0\.0\.1/);
  });

  it('status finds a block saved under the fully qualified platform name (homebridge-cctv.CCTV), as Homebridge does', async () => {
    const qualified = join(dir, 'config-qualified.json');
    writeFileSync(qualified, JSON.stringify({ platforms: [{ platform: 'homebridge-cctv.CCTV', name: 'CCTV', cameras: [{ id: 'q', name: 'Q', source: 'rtsp://127.0.0.1:1/x' }] }] }));
    const requests = new UiRequests({ storagePath: dir, configPath: qualified });
    const status = await requests.status();
    await requests.close();
    assert.deepEqual(status.cameras.map((c) => c.id), ['q']);
  });

  it('status of a platform block on a child bridge reads that bridge\'s own file, not the main bridge\'s', async () => {
    const child = mkdtempSync(join(tmpdir(), 'cctv-ui-child-'));
    try {
      const childConfig = join(child, 'config.json');
      writeFileSync(childConfig, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', _bridge: { username: '0e:11:22:33:44:55', port: 1 }, cameras: [
        { id: 'a', name: 'A', source: 'rtsp://127.0.0.1:1/x' },
      ] }] }));
      assert.equal(statusFilePath(child, '0e:11:22:33:44:55'), join(child, 'homebridge-cctv', 'status-0E1122334455.json'));
      const health = { state: 'offline', health: 'offline', reason: 'unreachable', since: 'x', checkedAt: 'x', video: null, viewers: 0, fps: null, bitrateKbps: null, restarts: 0, consecutiveFailures: 0, lastError: null, timeToFirstFrameMs: null, decodeErrors: 0, decodeErrorsTotal: 0 } as const;
      const main = new StatusFile({ path: statusFilePath(child), pluginVersion: '1', onError: assert.fail });
      main.update('a', { name: 'A', health: { ...health, state: 'online', health: 'online', reason: null } });
      main.close();
      const own = new StatusFile({ path: statusFilePath(child, '0e:11:22:33:44:55'), pluginVersion: '1', onError: assert.fail });
      own.update('a', { name: 'A', health });
      own.close();
      const requests = new UiRequests({ storagePath: child, configPath: childConfig });
      const status = await requests.status();
      await requests.close();
      assert.deepEqual(status.cameras.map((c) => c.health?.state ?? null), ['offline']);
    } finally {
      rmSync(child, { recursive: true, force: true });
    }
  });

  it('status with MQTT on but no broker: the status file, and why (no MQTT password in it)', async () => {
    const port = await freePort();
    const mqttConfig = join(dir, 'config-mqtt.json');
    writeFileSync(mqttConfig, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', cameras: [{ id: 'a', name: 'A', source: cameraUrl(port) }],
      mqtt: { url: `mqtt://cctv:${PASSWORD}@127.0.0.1:${port}`, username: 'cctv', password: PASSWORD } }] }));
    const requests = new UiRequests({ storagePath: dir, configPath: mqttConfig, mqttTimeoutMs: 2000 });
    try {
      const status = await requests.status();
      assert.equal(status.source, 'file');
      assert.match(status.mqttError ?? '', /^MQTT broker not readable: /);
      assert.equal(status.cameras[0]?.health?.state, 'online', 'from the status file');
      assert.equal(status.cameras[0]?.source, 'file');
      assertNoSecrets([JSON.stringify(status)], [PASSWORD]);
    } finally {
      await requests.close();
    }
  });

  it('RetainedWatch: a closed port and a silent broker are bounded failures, one connection, closed by close()', async () => {
    const port = await freePort();
    const refusedWatch = new RetainedWatch({ firstAnswerMs: 2000 });
    try {
      const refused = await refusedWatch.read({ url: `mqtt://u:${PASSWORD}@127.0.0.1:${port}`, password: PASSWORD, topics: ['x/y'] });
      assert.equal(refused.ok, false);
      assert.match(refused.ok ? '' : refused.message, /ECONNREFUSED/);
      assertNoSecrets([JSON.stringify(refused)], [PASSWORD]);
    } finally {
      await refusedWatch.close();
    }
    // A broker that accepts and never answers: the first read is bounded, the next ones do not open
    // another connection while this one is pending, and close() leaves no socket.
    const silent = await TcpListener.start({ mode: 'hold' });
    const other = await TcpListener.start({ mode: 'hold' });
    const watch = new RetainedWatch({ firstAnswerMs: 500, backoff: { baseMs: 60_000 } });
    try {
      const target = { url: `mqtt://127.0.0.1:${silent.port}`, topics: ['x/y'] };
      assert.deepEqual(await watch.read(target), { ok: false, message: 'no answer from the broker in 500 ms' });
      assert.equal(silent.connections.length, 1);
      // The connect timeout ended that attempt; the next is a minute away: read at once, still one connection.
      await waitFor(() => (silent.openSockets === 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: 'timed-out attempt closed' });
      const again = await watch.read({ ...target, topics: ['x/y', 'x/y'] });
      assert.equal(again.ok, false);
      assert.equal(silent.connections.length, 1, 'same target: no new connection');
      // Another target (the config changed): a new subscription there.
      const switched = watch.read({ url: `mqtt://127.0.0.1:${other.port}`, topics: ['x/y'] });
      await waitFor(() => (other.openSockets === 1 ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: 'connection to the new target' });
      await watch.close();
      assert.equal((await switched).ok, false);
      await waitFor(() => (other.openSockets === 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: 'socket closed by close()' });
      assert.deepEqual(await watch.read(target), { ok: false, message: 'closed' });
      assert.equal(silent.connections.length + other.connections.length, 2);
    } finally {
      await watch.close();
      await silent.close();
      await other.close();
    }
    const tlsConfig = join(dir, 'config-tls.json');
    writeFileSync(tlsConfig, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', cameras: [],
      mqtt: { url: `mqtts://127.0.0.1:${port}`, tls: { ca: join(dir, 'no-such-ca.pem') } } }] }));
    const tlsRequests = new UiRequests({ storagePath: dir, configPath: tlsConfig });
    const status = await tlsRequests.status();
    await tlsRequests.close();
    assert.match(status.mqttError ?? '', /cannot read the MQTT TLS ca file .*no-such-ca\.pem: ENOENT/);
  });

  it('ffmpeg: the binary the plugin would use, its version and the encoders; a wrong path is a clear failure', async () => {
    const requests = new UiRequests({ storagePath: dir, configPath });
    const reply = await requests.ffmpeg();
    assert.match(reply.path, /ffmpeg/);
    assert.match(reply.version, /\d/);
    assert.deepEqual(reply.encoders.map((e) => e.name), ['libx264', 'libopus', 'libfdk_aac', 'mjpeg']);
    const badConfig = join(dir, 'config-bad-ffmpeg.json');
    writeFileSync(badConfig, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', ffmpegPath: join(dir, 'no-ffmpeg'), cameras: [] }] }));
    await assert.rejects(new UiRequests({ storagePath: dir, configPath: badConfig }).ffmpeg(), UiRequestFailure);
  });

  it('testConnection: an incomplete entry names the fields; an unreachable camera says so, password masked', async () => {
    const requests = new UiRequests({ storagePath: dir, configPath, probeTimeoutMs: 2000 });
    const incomplete = await requests.testConnection({ camera: { name: 'Half', source: `rtsp://admin:${PASSWORD}@` } });
    assert.equal(incomplete.ok, false);
    assert.match(incomplete.headline, /not complete/);
    assert.ok(incomplete.details.some((d) => d.startsWith('id')), incomplete.details.join('; '));
    const port = await freePort();
    const down = await requests.testConnection({ camera: { id: 'x', name: 'X', source: cameraUrl(port) } });
    assert.equal(down.headline, 'Camera unreachable');
    assert.equal(down.url, `rtsp://admin:***@127.0.0.1:${port}/stream1`);
    assert.equal(down.image, null);
    assertNoSecrets([JSON.stringify(incomplete), JSON.stringify(down)], [PASSWORD]);
    await requests.close();
  });

  it('snapshot: an id that is not saved is a clear failure', async () => {
    const requests = new UiRequests({ storagePath: dir, configPath });
    await assert.rejects(requests.snapshot({ id: 'nope' }), (e: unknown) => e instanceof UiRequestFailure && /no saved camera with id "nope"/.test(e.message));
    await assert.rejects(requests.snapshot(null), UiRequestFailure);
  });

  it('server.js over IPC, as the Homebridge UI forks it: ready, /status, a failing route, unknown path, exit on disconnect', async () => {
    const server = await UiServer.start({ storagePath: dir, configPath });
    try {
      const status = await server.request('/status', {});
      assert.equal(status.success, true);
      assert.deepEqual((status.data as { cameras: { id: string }[] }).cameras.map((c) => c.id), ['a', 'new-one']);
      assert.equal((status.data as { source: string }).source, 'file', 'MQTT is off: the status file');
      const missing = await server.request('/snapshot', { id: 'nope' });
      assert.equal(missing.success, false);
      assert.match((missing.data as { message: string }).message, /no saved camera/);
      const unknown = await server.request('/nope', {});
      assert.equal(unknown.success, false);
      const port = await freePort();
      const tested = await server.request('/test-connection', { camera: { id: 'x', name: 'X', source: cameraUrl(port) } });
      assert.equal(tested.success, true);
      assert.equal((tested.data as { headline: string }).headline, 'Camera unreachable');
      const ffmpeg = await server.request('/ffmpeg', {});
      assert.equal(ffmpeg.success, true, JSON.stringify(ffmpeg.data));
      assertNoSecrets([JSON.stringify(server.messages)], [PASSWORD]);
      await server.disconnectAndWait();
    } finally {
      await server.dispose();
    }
  });
});
