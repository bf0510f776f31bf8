/**
 * Lockout-safe credentials (issue 9 item 4) against the real fixture camera: with a wrong password
 * and a prebuffered feed, the probe and the feed together log in twice, then hold off (one attempt
 * per 5 minutes), and say once what to fix; a restart with the fixed password is online at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Homebridge } from '../helpers/homebridge.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

const PASSWORD = `right-${randomBytes(4).toString('hex')}`;
const WRONG = `wrong-${randomBytes(4).toString('hex')}`;
const WINDOW_MS = 30_000;

describe('lockout-safe credentials (real Homebridge, real camera)', { timeout: 180_000 }, () => {
  let camera: RtspCamera;
  let hb: Homebridge | undefined;
  let storageDir = '';

  before(async () => {
    camera = await RtspCamera.start({ width: 320, height: 240, fps: 10, user: 'admin', password: PASSWORD });
  });

  after(async () => {
    await hb?.dispose();
    await camera?.stop();
  });

  function platform(password: string): Record<string, unknown> {
    return { cameras: [{ id: 'hik', name: 'Hik', source: camera.urlWithCredentials('admin', password), prebuffer: true }] };
  }

  it(`wrong password with prebuffer: at most 2 rejected logins in ${WINDOW_MS / 1000} s, one warning naming the fix`, async () => {
    const mark = camera.mark();
    hb = await Homebridge.start({ platform: platform(WRONG) });
    storageDir = hb.storageDir;
    const started = performance.now();
    await hb.waitForLog(/Hik: health starting → offline \(unauthorized\)/, 20_000);
    const warning = await hb.waitForLog(/Hik: the camera rejected the user name or password 2 times/, 20_000);
    console.log(`log: ${warning}`);
    await delay(Math.max(0, WINDOW_MS - (performance.now() - started)));
    const rejected = camera.authFailures({ withCredentials: true, since: mark });
    const all = camera.authFailures({ since: mark });
    console.log(`wrong password: ${rejected} rejected logins (${all} 401s in all) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    assert.equal(rejected, 2, 'the first two, then nothing within 5 minutes');
    assert.equal(hb.logs.filter((l) => l.includes('rejected the user name or password')).length, 1, 'said once');
    assert.ok(!hb.logs.join('\n').includes(WRONG), 'the wrong password is not logged');
  });

  it('after a restart with the fixed password the camera is tried at once and online', async () => {
    assert.ok(hb);
    await hb.stop();
    hb = undefined;
    const mark = camera.mark();
    const restarted = await Homebridge.start({ platform: platform(PASSWORD), storageDir });
    hb = restarted;
    const started = performance.now();
    await restarted.waitForLog(/Hik: health starting → online/, 15_000);
    await camera.waitForEvent((e) => e.event === 'request' && e['method'] === 'PLAY', 15_000, mark, 'the prebuffered feed playing');
    console.log(`fixed password: online ${(performance.now() - started).toFixed(0)} ms after Homebridge was up`);
    assert.equal(camera.authFailures({ withCredentials: true, since: mark }), 0);
  });
});
