/**
 * The settings page's own logic (homebridge-ui/public/index.html) in happy-dom, with
 * plugin-ui-utils' mock of the Homebridge UI: tabs, dashboard tiles and their live update, the
 * Test connection verdicts, the FFmpeg panel, error states, and no credential on the page.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { HealthPayload } from '../../src/mqtt/payloads.js';
import { StatusFile, statusFilePath } from '../../src/ui/status-file.js';
import { UiRequests, type DashboardStatus, type FfmpegReply, type TestConnectionReply } from '../../src/ui/ui-requests.js';
import { freePort } from '../helpers/free-port.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { openSettingsPage, type SettingsPage } from '../helpers/settings-page.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'Page-Secret-58';
const JPEG = 'data:image/jpeg;base64,/9j/4AAQSkZJRg==';

const ONLINE: HealthPayload = {
  state: 'online', health: 'online', reason: null, since: '2026-01-01T10:00:00.000Z', checkedAt: '2026-01-01T10:05:00.000Z',
  video: { codec: 'h264', width: 640, height: 360, fps: 15 }, viewers: 2, fps: 14.9, bitrateKbps: 512, restarts: 1,
  lastError: null, timeToFirstFrameMs: 850, decodeErrors: 2, decodeErrorsTotal: 7,
};
const WRONG_PASSWORD: HealthPayload = {
  ...ONLINE, state: 'offline', health: 'offline', reason: 'unauthorized', video: null, viewers: 0, fps: null, bitrateKbps: null,
  restarts: 0, timeToFirstFrameMs: null, lastError: 'RTSP DESCRIBE rtsp://admin:***@192.0.2.7:554/stream1: 401 Unauthorized',
};

/** What the form holds: passwords included (the page has them; it must never show them). */
const CONFIG = [{
  platform: 'CCTV', name: 'CCTV', cameras: [
    { id: 'front-door', name: 'Front Door', source: 'rtsp://192.0.2.5/stream1', username: 'viewer', password: PASSWORD },
    { id: 'garage', name: 'Garage', source: `rtsp://admin:${PASSWORD}@192.0.2.7:554/stream1` },
  ],
}];

function status(over: Partial<DashboardStatus> = {}): DashboardStatus {
  return {
    pluginRunning: true, updatedAt: '2026-01-01T10:05:00.000Z', source: 'mqtt', mqttError: null,
    cameras: [
      { id: 'front-door', name: 'Front Door', health: ONLINE, source: 'mqtt' },
      // Nothing retained on the broker for it: the server filled it from the status file.
      { id: 'garage', name: 'Garage', health: WRONG_PASSWORD, source: 'file' },
      { id: 'new-one', name: 'New One', health: null, source: null },
    ],
    ...over,
  };
}

describe('settings page (happy-dom + plugin-ui-utils mock)', () => {
  let page: SettingsPage | undefined;
  afterEach(async () => {
    await page?.close();
    page = undefined;
  });

  const text = (selector: string): string => page!.$(selector).textContent?.trim() ?? '';
  const visiblePanes = (): string[] => [...page!.document.querySelectorAll('.cctv-pane')].filter((p) => !(p as unknown as { hidden: boolean }).hidden).map((p) => p.id);

  it('starts on Cameras with the schema form shown; a first run gets a platform block', async () => {
    page = await openSettingsPage({}, []);
    assert.equal(page.host.schemaShown, 1);
    assert.deepEqual(visiblePanes(), ['paneCameras']);
    // Made in the page's realm: compared as data.
    assert.deepEqual(JSON.parse(JSON.stringify(page.host.mockPluginConfig)), [{ platform: 'CCTV', name: 'CCTV', cameras: [] }]);
  });

  it('a broker given by URL alone gets its "enabled" box ticked, so the form\'s Save cannot switch MQTT off', async () => {
    const byUrl = { platform: 'CCTV', name: 'CCTV', cameras: [], mqtt: { url: 'mqtt://127.0.0.1:1883', password: PASSWORD } };
    page = await openSettingsPage({}, [structuredClone(byUrl)]);
    assert.deepEqual(JSON.parse(JSON.stringify(page.host.mockPluginConfig)), [{ ...byUrl, mqtt: { ...byUrl.mqtt, enabled: true } }]);
    await page.close();
    // Left alone: a choice the user made, and a block without a broker.
    for (const mqtt of [{ enabled: false, url: 'mqtt://127.0.0.1:1883' }, { topicPrefix: 'cctv' }]) {
      page = await openSettingsPage({}, [{ platform: 'CCTV', name: 'CCTV', cameras: [], mqtt }]);
      assert.deepEqual((JSON.parse(JSON.stringify(page.host.mockPluginConfig)) as { mqtt: unknown }[])[0]?.mqtt, mqtt);
      await page.close();
    }
    page = undefined;
  });

  it('tabs switch panes and the active tab; the schema form is never hidden (config-ui-x 5.10 would lose the config)', async () => {
    page = await openSettingsPage({
      '/status': () => status(),
      '/snapshot': () => ({ id: 'x', image: JPEG, bytes: 10, ms: 1 }),
      '/ffmpeg': () => ({ path: '/usr/bin/ffmpeg', version: '6.1', encoders: [], hardware: [] }),
    }, CONFIG);
    for (const [tab, pane] of [['#tabDashboard', 'paneDashboard'], ['#tabTest', 'paneTest'], ['#tabFfmpeg', 'paneFfmpeg'], ['#tabCameras', 'paneCameras']] as const) {
      page.click(tab);
      assert.deepEqual(visiblePanes(), [pane], `after ${tab}`);
      const active: string[] = [...page.document.querySelectorAll('[data-pane].active')].map((t) => t.id);
      assert.deepEqual(active, [tab.slice(1)]);
    }
    assert.equal(page.host.schemaHidden, 0);
    assert.equal(page.host.schemaShown, 1);
  });

  it('dashboard: a tile per camera with state, plain-words reason, metrics and redacted last error; snapshots as data URLs', async () => {
    page = await openSettingsPage({
      '/status': () => status(),
      '/snapshot': (body) => ({ id: (body as { id: string }).id, image: JPEG, bytes: 20_480, ms: 300 }),
    }, CONFIG);
    page.click('#tabDashboard');
    await waitFor(() => (page!.document.querySelectorAll('[data-camera]').length === 3 ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'three tiles' });
    const field = (camera: string, name: string): string => text(`[data-camera="${camera}"] [data-field="${name}"]`);
    assert.equal(text('[data-camera="front-door"] .name'), 'Front Door');
    assert.equal(text('[data-camera="front-door"] .state'), 'online');
    assert.match(page.$('[data-camera="front-door"] .state').className, /cctv-state-online/);
    assert.equal(text('[data-camera="front-door"] .reason'), '');
    assert.equal(field('front-door', 'fps'), '14.9');
    assert.equal(field('front-door', 'bitrate'), '512 kbit/s');
    assert.equal(field('front-door', 'resolution'), '640x360 h264');
    assert.equal(field('front-door', 'viewers'), '2');
    assert.equal(field('front-door', 'restarts'), '1');
    assert.equal(field('front-door', 'first frame'), '850 ms');
    assert.equal(field('front-door', 'decode errors'), '2 in 10 s (7 total)');
    assert.equal(field('front-door', 'last error'), '–');
    assert.equal(text('[data-camera="garage"] .state'), 'offline');
    assert.equal(text('[data-camera="garage"] .reason'), 'wrong user name or password');
    assert.equal(field('garage', 'last error'), WRONG_PASSWORD.lastError);
    assert.equal(field('garage', 'fps'), '–');
    assert.equal(text('[data-camera="front-door"] .health-source'), '');
    assert.equal(text('[data-camera="garage"] .health-source'), 'From the status file: nothing retained on the broker for this camera.');
    assert.equal(text('[data-camera="new-one"] .state'), 'unknown');
    assert.equal(text('[data-camera="new-one"] .reason'), 'not reported by the plugin yet');
    assert.equal(text('#dashboardSource'), 'Source: retained MQTT health.');
    assert.match(text('#dashboardNote'), /^Live from the running plugin/);
    await waitFor(() => (page!.$('[data-camera="front-door"] img.snapshot').getAttribute('src') === JPEG ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'snapshot src' });
    const asked = page.host.requests.filter((r) => r.path === '/snapshot').map((r) => (r.body as { id: string }).id).sort();
    assert.deepEqual(asked, ['front-door', 'garage', 'new-one']);
    assertNoSecrets([page.document.body.innerHTML], [PASSWORD]);
  });

  it('dashboard: a tile follows new health as it arrives; the status file and its reason are named', async () => {
    let current = status();
    page = await openSettingsPage({ '/status': () => current, '/snapshot': () => ({ id: 'x', image: JPEG, bytes: 1, ms: 1 }) }, CONFIG);
    page.click('#tabDashboard');
    await waitFor(() => (text('[data-camera="front-door"] .state') === 'online' ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'online first' });
    current = status({
      source: 'file', mqttError: 'MQTT broker not readable: connect ECONNREFUSED 127.0.0.1:1883', pluginRunning: false,
      cameras: [{ id: 'front-door', name: 'Front Door', health: { ...ONLINE, state: 'degraded', health: 'degraded', reason: 'low_fps', fps: 4 }, source: 'file' }],
    });
    // The page polls while the dashboard is open: the next answer must reach the tile.
    await waitFor(() => (text('[data-camera="front-door"] .state') === 'degraded' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50, what: 'tile updated to degraded' });
    assert.equal(text('[data-camera="front-door"] .reason'), 'fewer frames than the camera announces');
    assert.equal(text('[data-camera="front-door"] [data-field="fps"]'), '4');
    assert.equal(page.document.querySelectorAll('[data-camera]').length, 1, 'cameras no longer reported are removed');
    assert.equal(text('#dashboardSource'), 'Source: status file (MQTT broker not readable: connect ECONNREFUSED 127.0.0.1:1883).');
    assert.match(text('#dashboardNote'), /not running/);
    assert.equal(text('[data-camera="front-door"] .health-source'), '', 'the source line already says status file');
    // Leaving the dashboard stops the polling.
    page.click('#tabCameras');
    const before = page.host.requests.filter((r) => r.path === '/status').length;
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(page.host.requests.filter((r) => r.path === '/status').length, before, 'no /status after leaving the dashboard');
  });

  it('dashboard: a failing server is an inline message, not a spinner', async () => {
    page = await openSettingsPage({ '/status': () => Promise.reject(new Error('the request failed (see the Homebridge UI log)')) }, CONFIG);
    page.click('#tabDashboard');
    await waitFor(() => (text('#dashboardNote').startsWith('Health unavailable') ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'error note' });
    assert.equal(text('#dashboardNote'), 'Health unavailable: the request failed (see the Homebridge UI log)');
  });

  it('test connection: sends the entry as it is in the form; "wrong password" for that verdict, codec and size for a good one', async () => {
    const wrong: TestConnectionReply = {
      ok: false, headline: 'Wrong user name or password', details: ['RTSP DESCRIBE 401 from rtsp://admin:***@192.0.2.7:554/stream1'],
      advice: ['Check the user name and password for this camera (the camera answered 401).'], url: 'rtsp://admin:***@192.0.2.7:554/stream1', image: null,
    };
    const good: TestConnectionReply = {
      ok: true, headline: 'Connected', details: ['Video: H.264 High, 640x360, 15 fps', 'Audio: none', 'Answered in 12 ms'],
      advice: ['H.264: live view can be forwarded without re-encoding.'], url: 'rtsp://192.0.2.5/stream1', image: JPEG,
    };
    page = await openSettingsPage({
      '/test-connection': (body) => ((body as { camera: { id: string } }).camera.id === 'garage' ? wrong : good),
    }, structuredClone(CONFIG));
    page.click('#tabTest');
    await waitFor(() => (page!.document.querySelectorAll('#testCamera option').length === 2 ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'camera choices' });
    assert.deepEqual([...page.document.querySelectorAll('#testCamera option')].map((o) => o.textContent), ['Front Door', 'Garage']);

    // An unsaved edit in the form is what gets tested.
    (page.host.mockPluginConfig[0] as unknown as typeof CONFIG[0]).cameras[1]!.source = `rtsp://admin:${PASSWORD}@192.0.2.7:554/edited`;
    (page.$('#testCamera') as unknown as { value: string }).value = '1';
    page.click('#testButton');
    await waitFor(() => (page!.document.querySelector('#testResult .headline') ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'verdict' });
    assert.equal(text('#testResult .headline'), 'Wrong user name or password');
    assert.equal(page.$('#testResult .cctv-verdict').getAttribute('data-ok'), 'false');
    assert.match(page.$('#testResult .cctv-verdict').className, /alert-danger/);
    const sent = page.host.requests.find((r) => r.path === '/test-connection')!.body as { camera: { source: string } };
    assert.equal(sent.camera.source, `rtsp://admin:${PASSWORD}@192.0.2.7:554/edited`);
    assert.equal(page.document.querySelector('#testResult img'), null);

    (page.$('#testCamera') as unknown as { value: string }).value = '0';
    page.click('#testButton');
    await waitFor(() => (text('#testResult .headline') === 'Connected' ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'good verdict' });
    assert.equal(page.$('#testResult .cctv-verdict').getAttribute('data-ok'), 'true');
    assert.match(text('#testResult .details'), /H\.264 High, 640x360, 15 fps/);
    assert.match(text('#testResult .advice'), /without re-encoding/);
    assert.equal(page.$('#testResult img').getAttribute('src'), JPEG);
    assert.equal((page.$('#testButton') as unknown as { disabled: boolean }).disabled, false, 'the button is usable again');
    assertNoSecrets([page.document.body.innerHTML], [PASSWORD]);
  });

  it('test connection: no cameras yet says where to add one; a failing request is shown inline', async () => {
    page = await openSettingsPage({ '/test-connection': () => Promise.reject(new Error('no answer')) }, [{ platform: 'CCTV', name: 'CCTV', cameras: [] }]);
    page.click('#tabTest');
    await waitFor(() => (text('#testResult').includes('Add a camera') ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'empty hint' });
    assert.equal((page.$('#testButton') as unknown as { disabled: boolean }).disabled, true);
    page.host.mockPluginConfig = structuredClone(CONFIG);
    page.click('#tabCameras');
    page.click('#tabTest');
    await waitFor(() => (page!.document.querySelectorAll('#testCamera option').length === 2 ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'choices' });
    page.click('#testButton');
    await waitFor(() => (text('#testResult') === 'no answer' ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'inline error' });
  });

  it('FFmpeg tab: binary, version, encoders found and missing', async () => {
    const reply: FfmpegReply = {
      path: '/usr/bin/ffmpeg', version: '6.1.1',
      encoders: [{ name: 'libx264', found: true }, { name: 'libfdk_aac', found: false }], hardware: ['h264_vaapi'],
    };
    page = await openSettingsPage({ '/ffmpeg': () => reply }, CONFIG);
    page.click('#tabFfmpeg');
    await waitFor(() => (text('#ffmpegResult').includes('libx264') ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'ffmpeg panel' });
    const out = text('#ffmpegResult');
    assert.match(out, /FFmpeg 6\.1\.1 at \/usr\/bin\/ffmpeg/);
    assert.match(out, /libx264: found/);
    assert.match(out, /libfdk_aac: missing/);
    assert.match(out, /hardware H\.264 encoders: h264_vaapi/);
  });

  it('with the real request handlers behind it: the status file on a tile, its password-bearing error redacted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cctv-page-'));
    try {
      const port = await freePort();
      const url = `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/stream1`;
      const configPath = join(dir, 'config.json');
      writeFileSync(configPath, JSON.stringify({ platforms: [{ platform: 'CCTV', name: 'CCTV', cameras: [{ id: 'yard', name: 'Yard', source: url }] }] }));
      const file = new StatusFile({ path: statusFilePath(dir), pluginVersion: '0.0.0', onError: (m) => assert.fail(m) });
      file.update('yard', { name: 'Yard', health: { ...WRONG_PASSWORD, lastError: `DESCRIBE ${url} failed; password ${PASSWORD}` } });
      file.close();
      const requests = new UiRequests({ storagePath: dir, configPath, snapshotTimeoutMs: 3000 });
      page = await openSettingsPage({
        '/status': () => requests.status(),
        '/snapshot': (body) => requests.snapshot(body),
      }, [{ platform: 'CCTV', name: 'CCTV', cameras: [{ id: 'yard', name: 'Yard', source: url }] }]);
      page.click('#tabDashboard');
      await waitFor(() => (text('[data-camera="yard"] .reason') === 'wrong user name or password' ? true : undefined), { timeoutMs: 10_000, intervalMs: 20, what: 'yard tile' });
      assert.equal(text('#dashboardSource'), 'Source: status file.');
      assert.match(text('[data-camera="yard"] [data-field="last error"]'), /admin:\*\*\*@127\.0\.0\.1/);
      // The camera is not there: the snapshot fails into the image's title, not onto the page as a credential.
      await waitFor(() => (page!.$('[data-camera="yard"] img.snapshot').getAttribute('title') ? true : undefined), { timeoutMs: 10_000, intervalMs: 20, what: 'snapshot failure' });
      assertNoSecrets([page.document.body.innerHTML], [PASSWORD]);
      await requests.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
