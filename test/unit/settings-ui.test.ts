/**
 * The settings page's server side: the plain-words verdicts (table), the status file, the request
 * handlers against real files and a real (closed) loopback port, and homebridge-ui/server.js forked
 * over IPC exactly as homebridge-config-ui-x forks it. No reply may carry a configured password.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ProbeResult } from '../../src/health/rtsp-probe.js';
import { explainConnection } from '../../src/ui/connection-verdict.js';
import { readStatusFile, StatusFile, statusFilePath } from '../../src/ui/status-file.js';
import { UiRequestFailure, UiRequests } from '../../src/ui/ui-requests.js';
import { freePort } from '../helpers/free-port.js';
import { REPO_ROOT } from '../helpers/homebridge.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { withTimeout } from '../helpers/wait.js';

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
    const health = { state: 'online', health: 'online', reason: null, since: 'x', checkedAt: 'x', video: null, viewers: 0, fps: null, bitrateKbps: null, restarts: 0, consecutiveFailures: 0, lastError: null, timeToFirstFrameMs: null } as const;
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
    const status = requests.status();
    assert.equal(status.pluginRunning, true, 'the pid in the file is this process');
    assert.deepEqual(status.cameras.map((c) => [c.id, c.health?.state ?? null]), [['a', 'online'], ['new-one', null]]);
    assertNoSecrets([JSON.stringify(status)], [PASSWORD]);
    assert.match(status.cameras[0]!.health!.lastError!, /admin:\*\*\*@127\.0\.0\.1/);
  });

  it('status of a platform block on a child bridge reads that bridge\'s own file, not the main bridge\'s', () => {
    const child = mkdtempSync(join(tmpdir(), 'cctv-ui-child-'));
    try {
      const childConfig = join(child, 'config.json');
      writeFileSync(childConfig, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', _bridge: { username: '0e:11:22:33:44:55', port: 1 }, cameras: [
        { id: 'a', name: 'A', source: 'rtsp://127.0.0.1:1/x' },
      ] }] }));
      assert.equal(statusFilePath(child, '0e:11:22:33:44:55'), join(child, 'homebridge-cctv', 'status-0E1122334455.json'));
      const health = { state: 'offline', health: 'offline', reason: 'unreachable', since: 'x', checkedAt: 'x', video: null, viewers: 0, fps: null, bitrateKbps: null, restarts: 0, consecutiveFailures: 0, lastError: null, timeToFirstFrameMs: null } as const;
      const main = new StatusFile({ path: statusFilePath(child), pluginVersion: '1', onError: assert.fail });
      main.update('a', { name: 'A', health: { ...health, state: 'online', health: 'online', reason: null } });
      main.close();
      const own = new StatusFile({ path: statusFilePath(child, '0e:11:22:33:44:55'), pluginVersion: '1', onError: assert.fail });
      own.update('a', { name: 'A', health });
      own.close();
      const requests = new UiRequests({ storagePath: child, configPath: childConfig });
      const status = requests.status();
      requests.close();
      assert.deepEqual(status.cameras.map((c) => c.health?.state ?? null), ['offline']);
    } finally {
      rmSync(child, { recursive: true, force: true });
    }
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
    requests.close();
  });

  it('snapshot: an id that is not saved is a clear failure', async () => {
    const requests = new UiRequests({ storagePath: dir, configPath });
    await assert.rejects(requests.snapshot({ id: 'nope' }), (e: unknown) => e instanceof UiRequestFailure && /no saved camera with id "nope"/.test(e.message));
    await assert.rejects(requests.snapshot(null), UiRequestFailure);
  });

  it('server.js over IPC, as the Homebridge UI forks it: ready, /status, a failing route, unknown path, exit on disconnect', async () => {
    const child = fork(join(REPO_ROOT, 'homebridge-ui', 'server.js'), [], {
      silent: true,
      env: { ...process.env, HOMEBRIDGE_STORAGE_PATH: dir, HOMEBRIDGE_CONFIG_PATH: configPath },
    });
    try {
      type Message = { action: string; payload: { requestId?: number; success?: boolean; data?: unknown; server?: boolean } };
      const messages: Message[] = [];
      const waiters: Array<() => void> = [];
      child.on('message', (m: Message) => {
        messages.push(m);
        for (const w of waiters.splice(0)) w();
      });
      const next = (pred: (m: Message) => boolean): Promise<Message> => withTimeout(new Promise<Message>((resolve) => {
        const check = (): void => {
          const hit = messages.find(pred);
          if (hit) resolve(hit);
          else waiters.push(check);
        };
        check();
      }), 15_000, 'IPC message');
      assert.equal((await next((m) => m.action === 'ready')).payload.server, true);
      let id = 0;
      const ask = async (path: string, body: unknown): Promise<Message['payload']> => {
        const requestId = ++id;
        child.send({ action: 'request', requestId, path, body });
        return (await next((m) => m.action === 'response' && m.payload.requestId === requestId)).payload;
      };
      const status = await ask('/status', {});
      assert.equal(status.success, true);
      assert.deepEqual((status.data as { cameras: { id: string }[] }).cameras.map((c) => c.id), ['a', 'new-one']);
      const missing = await ask('/snapshot', { id: 'nope' });
      assert.equal(missing.success, false);
      assert.match((missing.data as { message: string }).message, /no saved camera/);
      const unknown = await ask('/nope', {});
      assert.equal(unknown.success, false);
      assertNoSecrets([JSON.stringify(messages)], [PASSWORD]);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await withTimeout(exited, 10_000, 'server.js exit after disconnect');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
