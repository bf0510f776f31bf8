import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withCredentials } from '../../src/config/camera-credentials.js';
import { redactUrl } from '../../src/config/redact.js';
import { resolveConfig } from '../../src/config/validate-config.js';

describe('per-camera user name and password', () => {
  const rows: Array<[string, string | undefined, string | undefined, string, string]> = [
    ['rtsp://10.0.0.5:554/s1', undefined, undefined, 'none', 'rtsp://10.0.0.5:554/s1'],
    ['rtsp://10.0.0.5:554/s1', '', '', 'none', 'rtsp://10.0.0.5:554/s1'],
    ['rtsp://10.0.0.5:554/s1', 'admin', 'hunter2', 'applied', 'rtsp://admin:hunter2@10.0.0.5:554/s1'],
    ['rtsp://10.0.0.5/s1', 'admin', '', 'applied', 'rtsp://admin@10.0.0.5/s1'],
    ['rtsps://cam.local:322/s?x=1', 'a b', 'p@ss:w/rd%', 'applied', 'rtsps://a%20b:p%40ss%3Aw%2Frd%25@cam.local:322/s?x=1'],
    ['rtsp://old:pw@10.0.0.5/s1', 'admin', 'hunter2', 'ignored', 'rtsp://old:pw@10.0.0.5/s1'],
  ];
  for (const [url, user, pass, kind, out] of rows) {
    it(`${url} + ${user ?? '-'}/${pass ?? '-'} → ${kind}`, () => {
      assert.deepEqual(withCredentials(url, user, pass), { kind, url: out });
    });
  }

  it('resolveConfig folds the fields into the source without a warning, and drops them from the camera', () => {
    const { config, issues } = resolveConfig({ name: 'CCTV', cameras: [{ id: 'a', name: 'A', source: 'rtsp://10.0.0.5/s1', username: 'admin', password: 'p@ss' }] });
    assert.deepEqual(issues, []);
    const camera = config.cameras[0]!;
    assert.equal(camera.source, 'rtsp://admin:p%40ss@10.0.0.5/s1');
    assert.equal(redactUrl(camera.source), 'rtsp://admin:***@10.0.0.5/s1');
    assert.ok(!('password' in camera) && !('username' in camera));
  });

  it('credentials in the URL keep working; the fields are then ignored with a warning', () => {
    const { config, issues } = resolveConfig({ name: 'CCTV', cameras: [{ id: 'a', name: 'A', source: 'rtsp://u:pw@10.0.0.5/s1', username: 'admin', password: 'x' }] });
    assert.equal(config.cameras[0]?.source, 'rtsp://u:pw@10.0.0.5/s1');
    assert.deepEqual(issues.map((i) => [i.field, i.severity]), [['username', 'warning']]);
  });
});
