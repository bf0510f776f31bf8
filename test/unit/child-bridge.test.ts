import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findChildBridge, inChildBridgeProcess, matchChildBridge, type ChildBridgeMatch } from '../../src/platform/child-bridge.js';

const cams = [{ id: 'a', name: 'A', source: 'rtsp://127.0.0.1:1/a' }];
const porch = [{ id: 'porch', name: 'Porch', source: 'rtsp://127.0.0.1:1/p' }];
const onMain = { platform: 'CCTV', name: 'CCTV', cameras: cams };
const childA = { platform: 'CCTV', name: 'CCTV', _bridge: { username: '0e:aa:bb:cc:dd:01', port: 1 }, cameras: porch };
const childB = { platform: 'homebridge-cctv.CCTV', name: 'CCTV', _bridge: { username: '0E:AA:BB:CC:DD:02', port: 2 }, cameras: cams };
const other = { platform: 'Camera-ffmpeg', name: 'CCTV', _bridge: { username: '0E:AA:BB:CC:DD:03' }, cameras: porch };
/** What the plugin receives in a child bridge: the block without `_bridge`. */
const received = (block: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(block).filter(([k]) => k !== '_bridge'));

describe('matchChildBridge', () => {
  const table: [string, unknown, unknown, boolean, ChildBridgeMatch['kind'], string?][] = [
    ['the main bridge process is the main bridge', onMain, [onMain, childA], false, 'main'],
    ['the one child block of ours (another plugin\'s block ignored)', received(childA), [other, onMain, childA], true, 'child', '0E:AA:BB:CC:DD:01'],
    ['two child blocks: the one whose settings equal ours', received(childB), [childA, childB], true, 'child', '0E:AA:BB:CC:DD:02'],
    ['key order does not matter', { cameras: porch, name: 'CCTV', platform: 'CCTV' }, [childB, childA], true, 'child', '0E:AA:BB:CC:DD:01'],
    ['a block that kept `_bridge` names itself', childA, undefined, false, 'child', '0E:AA:BB:CC:DD:01'],
    ['two identical child blocks cannot be told apart', received(childA), [childA, { ...childA, _bridge: { username: '0E:00:00:00:00:09' } }], true, 'unknown'],
    ['settings that match no child block of two', { platform: 'CCTV', cameras: [] }, [childA, childB], true, 'unknown'],
    ['no platforms list', received(childA), undefined, true, 'unknown'],
  ];
  for (const [name, own, platforms, inChild, kind, username] of table) {
    it(name, () => {
      const match = matchChildBridge(own, platforms, inChild);
      assert.equal(match.kind, kind, JSON.stringify(match));
      if (username) assert.deepEqual(match, { kind: 'child', username });
    });
  }

  it('tells the child bridge process by its entry point; reads config.json, never throws', () => {
    assert.equal(inChildBridgeProcess(['node', '/x/node_modules/homebridge/dist/childBridgeFork.js', '-U', '/s']), true);
    assert.equal(inChildBridgeProcess(['node', '/x/node_modules/homebridge/bin/homebridge']), false);
    const dir = mkdtempSync(join(tmpdir(), 'cctv-child-'));
    try {
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify({ platforms: [onMain, childA] }));
      assert.deepEqual(findChildBridge(received(childA), path, true), { kind: 'child', username: '0E:AA:BB:CC:DD:01' });
      assert.deepEqual(findChildBridge(onMain, join(dir, 'missing.json'), false), { kind: 'main' });
      assert.equal(findChildBridge(received(childA), join(dir, 'missing.json'), true).kind, 'unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
