/**
 * The settings page end to end: a real homebridge-config-ui-x (5.10, loopback, auth none) beside a
 * real Homebridge running this plugin (MQTT on, a password-protected mosquitto: the dashboard reads the
 * retained health), the real fixture camera, and headless Chromium clicking through it as a user would. Screenshots land in $CCTV_SCREENSHOTS (docs/images for the README).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { resolveConfig } from '../../src/config/validate-config.js';
import { launchBrowser } from '../helpers/browser.js';
import { ConfigUi } from '../helpers/config-ui.js';
import { Homebridge } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { assertNoSecrets } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'ui-e2e-Secret-7';
const WRONG = 'not-the-password';
const MQTT_PASSWORD = 'ui-e2e-Broker-3';
const shotsDir = process.env.CCTV_SCREENSHOTS;

describe('settings page in homebridge-config-ui-x + Chromium', () => {
  let camera: RtspCamera;
  let broker: Mosquitto;
  let hb: Homebridge;
  let ui: ConfigUi;
  let browser: Browser;
  let page: Page;
  let frame: FrameLocator;

  before(async () => {
    camera = await RtspCamera.start({ user: 'viewer', password: PASSWORD, width: 640, height: 360, fps: 15 });
    broker = await Mosquitto.start({ users: { cctv: MQTT_PASSWORD } });
    hb = await Homebridge.start({
      platform: {
        cameras: [
          // The login in the form's user name / password fields for one, inside the URL for the other.
          { id: 'front-door', name: 'Front Door', source: camera.urlWithoutCredentials, username: 'viewer', password: PASSWORD },
          { id: 'garage', name: 'Garage', source: camera.urlWithCredentials('viewer', WRONG) },
        ],
        mqtt: { url: broker.url, username: 'cctv', password: MQTT_PASSWORD },
      },
    });
    ui = await ConfigUi.start({ storageDir: hb.storageDir });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${ui.url}/plugins`);
    // The plugin's card (5.28 also lists the camera-ffmpeg dev dependency), its actions menu
    // ("Plugin Actions Dropdown" in 5.10, "Plugin Actions" in 5.28), then the settings item.
    const card = page.locator('app-plugin-card').filter({ hasText: 'homebridge-cctv' });
    await card.getByLabel(/^Plugin Actions/).click({ timeout: 30_000 });
    await card.locator('.dropdown-item').filter({ has: page.locator('.fa-sliders') }).click();
    await page.getByRole('dialog').waitFor();
    frame = page.frameLocator('iframe[src*="settings-ui/homebridge-cctv"]');
    await frame.locator('#tabDashboard').waitFor({ timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await ui?.dispose();
    await hb?.dispose();
    await camera?.stop();
    await broker?.stop();
  });

  async function screenshot(name: string): Promise<void> {
    if (!shotsDir) return;
    mkdirSync(shotsDir, { recursive: true });
    await page.getByRole('dialog').screenshot({ path: join(shotsDir, name) });
  }

  async function pageText(): Promise<string> {
    return frame.locator('body').innerHTML();
  }

  it('shows the generated form inside the page', async () => {
    await page.getByRole('tab', { name: 'Front Door' }).or(page.getByText('Front Door', { exact: true })).first().waitFor();
    await page.getByLabel('RTSP URL').first().waitFor();
    await screenshot('settings-form.png');
  });

  it('dashboard: every camera with its health and a picture; the wrong password named', async () => {
    await frame.locator('#tabDashboard').click();
    const front = frame.locator('[data-camera="front-door"]');
    const garage = frame.locator('[data-camera="garage"]');
    await waitFor(async () => (await front.locator('.state').textContent()) === 'online', { timeoutMs: 40_000, intervalMs: 250, what: 'Front Door online' });
    await waitFor(async () => (await garage.locator('.reason').textContent())?.includes('wrong user name or password'), { timeoutMs: 40_000, intervalMs: 250, what: 'Garage wrong password' });
    const width = await waitFor(async () => {
      const w = await front.locator('img.snapshot').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
      return w > 0 ? w : undefined;
    }, { timeoutMs: 40_000, intervalMs: 250, what: 'Front Door snapshot' });
    assert.equal(width, 640);
    assert.equal(await garage.locator('.state').textContent(), 'offline');
    assert.equal(await frame.locator('#dashboardSource').textContent(), 'Source: retained MQTT health.');
    assertNoSecrets([await pageText()], [PASSWORD, WRONG, MQTT_PASSWORD]);
    await screenshot('settings-dashboard.png');
  });

  it('test connection: a wrong password says so, a good camera shows codec and size', async () => {
    await frame.locator('#tabTest').click();
    await frame.locator('#testCamera').selectOption({ label: 'Garage' });
    await frame.locator('#testButton').click();
    const result = frame.locator('#testResult');
    await result.locator('.headline').filter({ hasText: 'Wrong user name or password' }).waitFor({ timeout: 30_000 });
    await frame.locator('#testCamera').selectOption({ label: 'Front Door' });
    await frame.locator('#testButton').click();
    await result.locator('.headline').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    const details = await result.locator('.details').innerText();
    assert.match(details, /H\.264/);
    assert.match(details, /640x360/);
    const width = await result.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    assert.ok(width > 0, 'test picture decoded');
    assertNoSecrets([await pageText()], [PASSWORD, WRONG, MQTT_PASSWORD]);
    await screenshot('settings-test-connection.png');
  });

  it('FFmpeg tab: the binary, its version and encoders', async () => {
    await frame.locator('#tabFfmpeg').click();
    await frame.locator('#ffmpegResult').getByText('libx264: found').waitFor({ timeout: 30_000 });
    assert.match(await frame.locator('#ffmpegResult').innerText(), /FFmpeg \S+ at \//);
  });

  it('adds a camera through the form; Save writes it to config.json', async () => {
    await frame.locator('#tabCameras').click();
    await page.locator('a.nav-link', { hasText: 'Add New camera' }).click();
    // 5.28 marks required fields "Name*"; hidden tabs hold the same labels, so only the visible input counts.
    const visible = (label: string) => page.getByLabel(new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\*?$`)).filter({ visible: true }).first();
    await visible('Name').fill('Back Yard');
    await visible('Id (stable; MQTT topic segment)').fill('back-yard');
    await visible('RTSP URL').fill('rtsp://192.0.2.10:554/stream1');
    await visible('User name (optional)').fill('yard');
    const password = visible('Password (optional)');
    assert.equal(await password.getAttribute('type'), 'password');
    await password.fill('Yard-pw-5');
    // A substream, from the Advanced section's list.
    await page.getByText('Advanced', { exact: true }).filter({ visible: true }).first().click();
    await page.getByRole('button', { name: /Substreams/ }).filter({ visible: true }).first().click();
    await visible('Substream RTSP URL').fill('rtsp://192.0.2.10:554/stream2');
    await visible('Substream name').fill('sub');
    await page.getByRole('button', { name: 'Save' }).click();
    const cameras = await waitFor(() => {
      const config = JSON.parse(readFileSync(join(hb.storageDir, 'config.json'), 'utf8')) as { platforms: { platform: string; cameras?: { id: string; name: string; source: string; password?: string }[] }[] };
      const list = config.platforms.find((p) => p.platform === 'CCTV')?.cameras;
      return list?.some((c) => c.id === 'back-yard') ? list : undefined;
    }, { timeoutMs: 20_000, intervalMs: 250, what: 'config.json with back-yard' });
    // Switching tabs on the page must not have lost the cameras that were there (see index.html).
    assert.deepEqual(cameras.map((c) => [c.id, c.name, c.source]), [
      ['front-door', 'Front Door', camera.urlWithoutCredentials],
      ['garage', 'Garage', camera.urlWithCredentials('viewer', WRONG)],
      ['back-yard', 'Back Yard', 'rtsp://192.0.2.10:554/stream1'],
    ]);
    assert.equal(cameras[2]?.password, 'Yard-pw-5');
    // What the form saved loads cleanly (the defaults the form writes for an unused broker: test/unit/config.test.ts),
    // and the MQTT block, given by URL alone, survived the form: still on, password included.
    const block = (JSON.parse(readFileSync(join(hb.storageDir, 'config.json'), 'utf8')) as { platforms: { platform: string }[] }).platforms.find((p) => p.platform === 'CCTV');
    const { config, issues } = resolveConfig(block);
    assert.deepEqual(issues, []);
    assert.equal(config.cameras[2]?.source, 'rtsp://yard:Yard-pw-5@192.0.2.10:554/stream1');
    assert.equal(config.mqtt?.url, broker.url);
    assert.equal(config.mqtt?.password, MQTT_PASSWORD);
    assert.deepEqual(config.cameras[2]?.substreams, [{ name: 'sub', source: 'rtsp://yard:Yard-pw-5@192.0.2.10:554/stream2' }]);
    assert.deepEqual(config.cameras[0]?.substreams, [], 'cameras without substreams stay that way');
  });
});
