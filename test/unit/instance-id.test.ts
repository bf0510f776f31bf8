import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { instanceId } from '../../src/platform/instance-id.js';

const MODULE = fileURLToPath(new URL('../../src/platform/instance-id.ts', import.meta.url));

/** One process that writes its first id for `key` (a main or child bridge starting). */
function idInProcess(storagePath: string, key: string, startAt: number): Promise<string> {
  // Every process spins until one shared instant, so their first writes really overlap.
  const code = `const { instanceId } = await import(${JSON.stringify(MODULE)});
while (Date.now() < ${startAt});
process.stdout.write(instanceId({ storagePath: ${JSON.stringify(storagePath)}, key: ${JSON.stringify(key)}, log: { warn: (m) => process.stderr.write(m) } }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && err === '') resolve(out);
      else reject(new Error(`exit ${code}: ${err}`));
    });
  });
}

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

  it('instances starting at once (main and child bridges) all keep their ids', async () => {
    const storagePath = dir();
    const keys = ['main', ...[1, 2, 3, 4, 5].map((i) => `0E:00:00:00:00:0${i}`)];
    const startAt = Date.now() + 5000;
    const ids = await Promise.all(keys.map((key) => idInProcess(storagePath, key, startAt)));
    const stored = JSON.parse(readFileSync(join(storagePath, 'homebridge-cctv-instances.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(keys.map((k) => stored[k]), ids, 'no instance lost its id to a concurrent write');
    assert.equal(new Set(ids).size, keys.length);
  });

  it('a lock left by a process that died is broken; a fresh one is waited for, then a fallback', () => {
    const storagePath = dir();
    const lock = join(storagePath, 'homebridge-cctv-instances.json.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    warnings.length = 0;
    const id = instanceId({ storagePath, key: 'main', log });
    assert.equal((JSON.parse(readFileSync(join(storagePath, 'homebridge-cctv-instances.json'), 'utf8')) as Record<string, string>)['main'], id);
    writeFileSync(lock, '');
    const held = instanceId({ storagePath, key: 'other', log });
    assert.match(held, /^[0-9a-f]{8}$/);
    assert.equal(warnings.length, 1, 'a lock held too long: the derived id, with a warning');
    rmSync(lock);
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
