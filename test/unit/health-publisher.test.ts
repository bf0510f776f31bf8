import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { initialHealth, reduceHealth } from '../../src/health/health-reducer.js';
import type { HealthState, Symptom } from '../../src/health/health-types.js';
import { HealthPublisher } from '../../src/mqtt/health-publisher.js';
import { createTopics } from '../../src/mqtt/topics.js';

const T0 = 1_700_000_000_000;

interface Sent {
  at: number;
  topic: string;
  payload: string;
}

function setup(minIntervalMs?: number): { publisher: HealthPublisher; sent: Sent[]; health: () => Record<string, unknown>[] } {
  const sent: Sent[] = [];
  const connection = { publishRetained: (topic: string, payload: string) => void sent.push({ at: Date.now() - T0, topic, payload }) };
  const publisher = new HealthPublisher({ connection, topics: createTopics(), ...(minIntervalMs === undefined ? {} : { minIntervalMs }) });
  const health = (): Record<string, unknown>[] => sent.filter((s) => s.topic === 'cctv/cam/health').map((s) => JSON.parse(s.payload) as Record<string, unknown>);
  return { publisher, sent, health };
}

const ok: Symptom = { type: 'probe-ok', video: { codec: 'h264', width: 1280, height: 720, fps: 15 } };
const stats = (frames: number, fps: number, bitrateKbps = 1000): Symptom => ({ type: 'stream-stats', fps, bitrateKbps, frames, decodeErrors: 0 });

/** Drives a reducer with the mocked clock, publishing after each symptom like the platform would. */
class Camera {
  state: HealthState = initialHealth(Date.now());
  constructor(private readonly publisher: HealthPublisher) {}
  apply(symptom: Symptom): this {
    this.state = reduceHealth(this.state, symptom, Date.now());
    this.publisher.publish('cam', this.state);
    return this;
  }
}

describe('HealthPublisher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  it('starting publishes health but no status; first verdict publishes both', () => {
    const { publisher, sent } = setup();
    const cam = new Camera(publisher);
    publisher.publish('cam', cam.state);
    assert.deepEqual(sent.map((s) => s.topic), ['cctv/cam/health']);
    cam.apply(ok);
    assert.deepEqual(sent.slice(1).map((s) => [s.topic, s.topic.endsWith('status') ? s.payload : (JSON.parse(s.payload) as { state: string }).state]), [
      ['cctv/cam/status', 'online'],
      ['cctv/cam/health', 'online'],
    ]);
  });

  it('identical payloads are not re-sent, even when only checkedAt moves', () => {
    const { publisher, sent } = setup();
    const cam = new Camera(publisher).apply(ok);
    const count = sent.length;
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(10_000);
      cam.apply(ok); // a probe every 10 s: checkedAt changes, nothing else
    }
    assert.equal(sent.length, count);
  });

  it('an offline camera probed again and again publishes its health once (the failure count is not news)', () => {
    const { publisher, health } = setup();
    const cam = new Camera(publisher).apply(ok);
    const refused: Symptom = { type: 'probe-failed', reason: 'unreachable', message: 'connection refused (ECONNREFUSED)' };
    for (let i = 0; i < 3; i++) {
      mock.timers.tick(10_000);
      cam.apply(refused);
    }
    assert.equal(cam.state.state, 'offline');
    const before = health().length;
    for (let i = 0; i < 12; i++) {
      mock.timers.tick(10_000); // two minutes of probes, each one more consecutive failure
      cam.apply(refused);
    }
    assert.ok(cam.state.consecutiveFailures >= 14);
    assert.equal(health().length, before, 'no retained update per probe');
  });

  it('state/reason changes go out at once; status only when its string changes', () => {
    const { publisher, sent } = setup();
    const cam = new Camera(publisher).apply(ok);
    sent.length = 0;
    cam.apply({ type: 'stream-started' }).apply({ type: 'stream-first-frame', timeToFirstFrameMs: 500 });
    mock.timers.tick(1000);
    cam.apply({ type: 'stream-stalled' }); // online → degraded: immediate; status stays "online"
    const degraded = sent.filter((s) => s.topic === 'cctv/cam/health').map((s) => JSON.parse(s.payload) as { state: string; reason: string | null }).at(-1);
    assert.deepEqual([degraded?.state, degraded?.reason], ['degraded', 'stalled']);
    assert.equal(sent.filter((s) => s.topic === 'cctv/cam/status').length, 0);
    mock.timers.tick(10_000);
    cam.apply({ type: 'stream-stalled' }); // degraded → offline: immediate, status flips
    assert.deepEqual(sent.filter((s) => s.topic === 'cctv/cam/status').map((s) => [s.at, s.payload]), [[11_000, 'offline']]);
    mock.timers.tick(100);
    cam.apply({ type: 'probe-failed', reason: 'unauthorized', message: '401' }); // reason change within offline
    assert.equal(sent.filter((s) => s.topic === 'cctv/cam/health').at(-1)?.at, 11_100);
  });

  it('metric-only changes: at most one per 5 s, trailing publish carries the latest values', () => {
    const { publisher, sent, health } = setup();
    const cam = new Camera(publisher).apply(ok).apply({ type: 'stream-started' }).apply({ type: 'stream-first-frame', timeToFirstFrameMs: 400 });
    const before = health().length;
    // Stats every second for 12 s with changing fps/bitrate.
    for (let i = 1; i <= 12; i++) {
      mock.timers.tick(1000);
      cam.apply(stats(i * 15, 14 + (i % 2), 1000 + i));
    }
    mock.timers.tick(5000); // let the trailing timer fire
    const updates = sent.filter((s) => s.topic === 'cctv/cam/health').slice(before);
    // Spacing between health messages never below 5 s.
    const times = updates.map((u) => u.at);
    for (let i = 1; i < times.length; i++) assert.ok((times[i] ?? 0) - (times[i - 1] ?? 0) >= 5000, `spacing ${times.join(',')}`);
    // Mock timers make this exact: at 5 s and 10 s (the rate limit), then the trailing publish.
    assert.equal(updates.length, 3, `got ${updates.length} updates in 17 s: ${times.join(',')}`);
    // The last one has the last values.
    assert.equal(health().at(-1)?.['bitrateKbps'], 1012);
  });

  it('a state change cancels the pending metric update (and includes its values)', () => {
    const { publisher, sent, health } = setup();
    const cam = new Camera(publisher).apply(ok).apply({ type: 'stream-started' }).apply({ type: 'stream-first-frame', timeToFirstFrameMs: 400 });
    mock.timers.tick(1000);
    cam.apply(stats(15, 15, 900)); // first metrics after the state change at t=0 → throttled, pending
    const n = sent.length;
    mock.timers.tick(1000);
    cam.apply({ type: 'stream-stalled' }); // state change: immediate
    assert.equal(sent.length, n + 1);
    assert.equal(health().at(-1)?.['state'], 'degraded');
    assert.equal(health().at(-1)?.['bitrateKbps'], 900);
    mock.timers.tick(10_000);
    assert.equal(sent.length, n + 1, 'no trailing duplicate');
  });

  it('going back to the published values drops the pending update', () => {
    const { publisher, sent } = setup();
    const cam = new Camera(publisher).apply(ok);
    const n = sent.length;
    mock.timers.tick(1000);
    cam.apply({ type: 'viewers', count: 1 });
    mock.timers.tick(1000);
    cam.apply({ type: 'viewers', count: 0 });
    mock.timers.tick(10_000);
    assert.equal(sent.length, n);
  });

  it('clear() publishes empty retained payloads and cancels the timer; close() flushes and stops', () => {
    const { publisher, sent } = setup();
    const cam = new Camera(publisher).apply(ok);
    mock.timers.tick(1000);
    cam.apply({ type: 'viewers', count: 3 }); // pending
    const n = sent.length;
    publisher.clear('cam');
    assert.deepEqual(sent.slice(n).map((s) => [s.topic, s.payload]), [
      ['cctv/cam/status', ''],
      ['cctv/cam/health', ''],
    ]);
    mock.timers.tick(10_000);
    assert.equal(sent.length, n + 2, 'timer cancelled');

    const cam2 = new Camera(publisher).apply(ok); // re-added: publishes afresh
    assert.equal(sent.length, n + 4);
    mock.timers.tick(1000);
    cam2.apply({ type: 'viewers', count: 2 });
    publisher.close();
    assert.equal((JSON.parse(sent.at(-1)?.payload ?? '{}') as { viewers?: number }).viewers, 2, 'pending flushed on close');
    const m = sent.length;
    cam2.apply({ type: 'viewers', count: 5 });
    mock.timers.tick(10_000);
    assert.equal(sent.length, m, 'nothing after close');
  });

  it('cameras are throttled independently', () => {
    const { publisher, sent } = setup(2000);
    const a = { ...reduceHealth(initialHealth(T0), ok, T0) };
    publisher.publish('a', a);
    publisher.publish('b', a);
    mock.timers.tick(100);
    publisher.publish('a', { ...a, viewers: 1 });
    publisher.publish('b', { ...a, viewers: 1 });
    assert.equal(sent.filter((s) => s.topic.endsWith('/health')).length, 2);
    mock.timers.tick(1900);
    assert.deepEqual(sent.filter((s) => s.topic.endsWith('/health')).slice(2).map((s) => [s.topic, s.at]), [
      ['cctv/a/health', 2000],
      ['cctv/b/health', 2000],
    ]);
  });
});
