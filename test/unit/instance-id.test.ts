import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { instanceId } from '../../src/platform/instance-id.js';

describe('instanceId', () => {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'cctv-instance-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const warnings: string[] = [];
  const log = { warn: (m: string) => void warnings.push(m) };

  it('stable across restarts, distinct per bridge key in one storage dir', () => {
    const storagePath = dir();
    const main = instanceId({ storagePath, key: 'main', log });
    assert.match(main, /^[0-9a-f]{8}$/);
    assert.equal(instanceId({ storagePath, key: 'main', log }), main, 'a restart keeps the id (and so the MQTT client id)');
    const child = instanceId({ storagePath, key: '0E:11:22:33:44:55', log });
    assert.notEqual(child, main);
    assert.deepEqual(JSON.parse(readFileSync(join(storagePath, 'homebridge-cctv-instances.json'), 'utf8')), { main, '0E:11:22:33:44:55': child });
    assert.deepEqual(warnings, []);
  });

  it('a damaged file or a malformed entry gets a fresh id, other entries kept', () => {
    const storagePath = dir();
    const file = join(storagePath, 'homebridge-cctv-instances.json');
    writeFileSync(file, '{not json');
    assert.match(instanceId({ storagePath, key: 'main', log }), /^[0-9a-f]{8}$/);
    writeFileSync(file, JSON.stringify({ main: 'x/#', other: 'aabbccdd' }));
    const id = instanceId({ storagePath, key: 'main', log });
    assert.match(id, /^[0-9a-f]{8}$/, 'never a wildcard or a slash into the topics');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { main: id, other: 'aabbccdd' });
  });

  it('an unwritable storage dir: a warning, a stable id derived from the instance', () => {
    // Below a regular file: writing fails even for root (ENOTDIR), unlike a read-only mode.
    const blocker = join(dir(), 'not-a-dir');
    writeFileSync(blocker, '');
    const storagePath = join(blocker, 'storage');
    warnings.length = 0;
    const a = instanceId({ storagePath, key: 'main', log });
    assert.equal(instanceId({ storagePath, key: 'main', log }), a);
    assert.notEqual(instanceId({ storagePath, key: 'other', log }), a);
    assert.match(a, /^[0-9a-f]{8}$/);
    assert.equal(warnings.length, 3);
  });
});
