import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideQueue, defaultSnapshotLimits, SnapshotLimiter, type QueuedSnapshot, type SnapshotLimits } from '../../src/snapshot/snapshot-limiter.js';

const limits: SnapshotLimits = { perCamera: 2, total: 4 };

describe('defaultSnapshotLimits', () => {
  for (const [cores, total] of [[1, 2], [2, 2], [3, 3], [4, 4], [16, 4]] as const) {
    it(`${cores} cores: ${total} in total, 2 per camera`, () => assert.deepEqual(defaultSnapshotLimits(cores), { perCamera: 2, total }));
  }
});

describe('decideQueue: who starts, who gives up', () => {
  const q = (...items: [string, number][]): QueuedSnapshot[] => items.map(([camera, startBy]) => ({ camera, startBy }));
  const cases: { name: string; queue: QueuedSnapshot[]; running: [string, number][]; grant: number[]; refuse: number[] }[] = [
    { name: 'nothing running: FIFO up to the caps', queue: q(['a', 10], ['b', 10], ['c', 10]), running: [], grant: [0, 1, 2], refuse: [] },
    { name: 'total cap reached: everyone waits', queue: q(['e', 10]), running: [['a', 2], ['b', 2]], grant: [], refuse: [] },
    { name: 'one slot left: the oldest request gets it', queue: q(['c', 10], ['d', 10]), running: [['a', 2], ['b', 1]], grant: [0], refuse: [] },
    { name: 'a camera at its own cap does not block the others', queue: q(['a', 10], ['a', 10], ['a', 10], ['b', 10]), running: [], grant: [0, 1, 3], refuse: [] },
    { name: 'a camera already running two waits, another starts', queue: q(['a', 10], ['b', 10]), running: [['a', 2]], grant: [1], refuse: [] },
    { name: 'past its start-by: refused even with a free slot (it could not finish in time)', queue: q(['a', 0], ['b', 10]), running: [], grant: [1], refuse: [0] },
    { name: 'expired while the platform is full: refused, the rest keep waiting', queue: q(['c', 0], ['d', 10]), running: [['a', 2], ['b', 2]], grant: [], refuse: [0] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(decideQueue(c.queue, new Map(c.running), limits, 5), { grant: c.grant, refuse: c.refuse }));
  }
});

describe('SnapshotLimiter', () => {
  const far = (): number => performance.now() + 60_000;

  it('grants up to the caps, then hands a released slot to the next in line', async () => {
    const limiter = new SnapshotLimiter({ perCamera: 1, total: 2 });
    const a1 = await limiter.acquire('a', far());
    const b1 = await limiter.acquire('b', far());
    assert.ok(a1 && b1);
    assert.equal(limiter.active, 2);
    const order: string[] = [];
    const a2 = limiter.acquire('a', far()).then((s) => { order.push('a2'); return s; });
    const c1 = limiter.acquire('c', far()).then((s) => { order.push('c1'); return s; });
    assert.equal(limiter.waiting, 2);
    b1.release();
    b1.release(); // idempotent: frees one slot, not two
    const c = await c1;
    assert.ok(c, 'the platform slot went to c (a is at its per-camera cap)');
    assert.equal(limiter.waiting, 1);
    a1.release();
    const a = await a2;
    assert.ok(a);
    assert.deepEqual(order, ['c1', 'a2']);
    a.release();
    c.release();
    assert.equal(limiter.active, 0);
  });

  it('refuses a request that cannot start before its deadline, and at its deadline, not at the next release', async () => {
    const limiter = new SnapshotLimiter({ perCamera: 2, total: 1 });
    const held = await limiter.acquire('a', far());
    assert.ok(held);
    assert.equal(await limiter.acquire('b', performance.now() - 1), undefined, 'already too late');
    assert.equal(await limiter.acquire('b', performance.now() + 30), undefined, 'nothing freed before its start-by');
    assert.equal(limiter.waiting, 0);
    held.release();
    assert.ok(await limiter.acquire('b', far()), 'free again');
  });

  it('an aborted wait leaves the queue and takes no slot', async () => {
    const limiter = new SnapshotLimiter({ perCamera: 1, total: 1 });
    const held = await limiter.acquire('a', far());
    const controller = new AbortController();
    const waiting = limiter.acquire('b', far(), controller.signal);
    controller.abort('closed');
    assert.equal(await waiting, undefined);
    assert.equal(limiter.waiting, 0);
    held?.release();
    assert.equal(limiter.active, 0);
    assert.equal(await limiter.acquire('c', far(), controller.signal), undefined, 'an already aborted signal gets nothing');
  });
});
