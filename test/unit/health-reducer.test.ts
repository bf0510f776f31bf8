import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_HEALTH_POLICY, initialHealth, nextProbeDelayMs, reduceHealth } from '../../src/health/health-reducer.js';
import type { HealthPolicy, HealthState, Symptom } from '../../src/health/health-types.js';

const T0 = 1_700_000_000_000;
const VIDEO = { codec: 'h264', width: 1920, height: 1080, fps: 15 } as const;

const ok: Symptom = { type: 'probe-ok', video: VIDEO };
const refused: Symptom = { type: 'probe-failed', reason: 'unreachable', message: 'connection refused (ECONNREFUSED) at 10.0.0.2:554' };
const timedOut: Symptom = { type: 'probe-failed', reason: 'timeout', message: 'no answer within 5000 ms' };
const stats = (frames: number, fps: number, decodeErrors = 0): Symptom => ({ type: 'stream-stats', fps, bitrateKbps: 2000, frames, decodeErrors, width: 1920, height: 1080 });

type Step = [atSeconds: number, symptom: Symptom, expected: Partial<HealthState>];

function run(steps: readonly Step[], start: HealthState = initialHealth(T0), policy?: HealthPolicy): HealthState {
  let state = start;
  steps.forEach(([at, symptom, expected], i) => {
    state = reduceHealth(state, symptom, T0 + at * 1000, policy);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(state[key as keyof HealthState], value, `step ${i} (${symptom.type} @${at}s): ${key}`);
    }
  });
  return state;
}

/** A camera that is online with a live stream delivering frames. */
function streaming(): HealthState {
  return run([
    [0, ok, { state: 'online' }],
    [1, { type: 'stream-started' }, { streaming: true }],
    [2, { type: 'stream-first-frame', timeToFirstFrameMs: 800 }, { state: 'online', timeToFirstFrameMs: 800 }],
  ]);
}

describe('reduceHealth transitions', () => {
  const cases: { name: string; start?: () => HealthState; steps: Step[] }[] = [
    {
      name: 'starting → online on the first good probe, with the SDP video info',
      steps: [[0, ok, { state: 'online', reason: null, since: T0, checkedAt: T0, video: { ...VIDEO } }]],
    },
    {
      name: 'online needs two consecutive failures before offline (hysteresis)',
      steps: [
        [0, ok, { state: 'online' }],
        [10, refused, { state: 'online', consecutiveFailures: 1, lastError: 'connection refused (ECONNREFUSED) at 10.0.0.2:554' }],
        [12, refused, { state: 'offline', reason: 'unreachable', since: T0 + 12_000, consecutiveFailures: 2 }],
      ],
    },
    {
      name: 'a single miss followed by an answer never leaves online',
      steps: [
        [0, ok, { state: 'online' }],
        [10, timedOut, { state: 'online', consecutiveFailures: 1 }],
        [12, ok, { state: 'online', consecutiveFailures: 0, since: T0 }],
      ],
    },
    {
      name: 'timeout counts as unreachable',
      steps: [
        [0, timedOut, { state: 'starting' }],
        [2, timedOut, { state: 'offline', reason: 'unreachable' }],
      ],
    },
    ...(['unauthorized', 'forbidden', 'not_found'] as const).map((reason) => ({
      name: `${reason} goes offline at once`,
      steps: [
        [0, ok, { state: 'online' }],
        [10, { type: 'probe-failed', reason, message: `RTSP DESCRIBE ${reason}` }, { state: 'offline', reason, consecutiveFailures: 1 }],
      ] satisfies Step[],
    })),
    {
      name: 'offline → online on one good probe (fast recovery), lastError kept as history',
      steps: [
        [0, refused, {}],
        [2, refused, { state: 'offline', since: T0 + 2000 }],
        [6, timedOut, { state: 'offline', since: T0 + 2000, consecutiveFailures: 3 }],
        [16, ok, { state: 'online', reason: null, since: T0 + 16_000, consecutiveFailures: 0, lastError: 'no answer within 5000 ms' }],
      ],
    },
    {
      name: 'reason changes inside offline keep `since`',
      steps: [
        [0, refused, {}],
        [2, refused, { state: 'offline', reason: 'unreachable' }],
        [12, { type: 'probe-failed', reason: 'unauthorized', message: '401' }, { state: 'offline', reason: 'unauthorized', since: T0 + 2000 }],
      ],
    },
    {
      name: 'no_video uses the normal hysteresis',
      steps: [
        [0, ok, {}],
        [10, { type: 'probe-failed', reason: 'no_video', message: 'SDP has no video' }, { state: 'online' }],
        [12, { type: 'probe-failed', reason: 'no_video', message: 'SDP has no video' }, { state: 'offline', reason: 'no_video' }],
      ],
    },
    {
      name: 'stall → degraded at once, offline when it persists for stallOfflineMs',
      start: streaming,
      steps: [
        [5, { type: 'stream-stalled' }, { state: 'degraded', reason: 'stalled', stalledSince: T0 + 5000 }],
        [9, { type: 'stream-stalled' }, { state: 'degraded', reason: 'stalled', stalledSince: T0 + 5000 }],
        [15, { type: 'stream-stalled' }, { state: 'offline', reason: 'stalled', since: T0 + 15_000 }],
      ],
    },
    {
      name: 'frames flowing again clear a stall',
      start: streaming,
      steps: [
        [5, { type: 'stream-stalled' }, { state: 'degraded' }],
        [6, stats(100, 15), { state: 'online', reason: null, stalledSince: null, fps: 15, bitrateKbps: 2000 }],
      ],
    },
    {
      name: 'stats without new frames escalate a known stall',
      start: streaming,
      steps: [
        [3, stats(50, 15), { state: 'online' }],
        [5, { type: 'stream-stalled' }, { state: 'degraded' }],
        [16, stats(50, 10), { state: 'offline', reason: 'stalled' }],
      ],
    },
    {
      name: 'a stalled stream plus an unanswered probe is offline at once',
      start: streaming,
      steps: [
        [5, { type: 'stream-stalled' }, { state: 'degraded' }],
        [6, timedOut, { state: 'offline', reason: 'unreachable' }],
      ],
    },
    {
      name: 'a good probe does not clear a stall of the running stream',
      start: streaming,
      steps: [
        [5, { type: 'stream-stalled' }, { state: 'degraded', reason: 'stalled' }],
        [6, ok, { state: 'degraded', reason: 'stalled' }],
      ],
    },
    {
      name: 'live frames beat a failed probe (single-session cameras), and it is not counted',
      start: streaming,
      steps: [
        [5, refused, { state: 'online', consecutiveFailures: 0, lastError: 'connection refused (ECONNREFUSED) at 10.0.0.2:554' }],
        [7, refused, { state: 'online', consecutiveFailures: 0 }],
      ],
    },
    {
      name: 'first frame of a stream proves life while offline',
      steps: [
        [0, refused, {}],
        [2, refused, { state: 'offline' }],
        [3, { type: 'stream-started' }, { state: 'offline' }],
        [4, { type: 'stream-first-frame', timeToFirstFrameMs: 1200 }, { state: 'online', timeToFirstFrameMs: 1200, consecutiveFailures: 0 }],
      ],
    },
    {
      name: 'low fps (after the grace period, twice) → degraded; recovers after two good samples',
      start: streaming,
      steps: [
        [4, stats(20, 3), { state: 'online', badSamples: 0 }], // in grace: FFmpeg's average still ramps up
        [12, stats(60, 6), { state: 'online', badSamples: 1 }],
        [14, stats(70, 5), { state: 'degraded', reason: 'low_fps', badSamples: 2 }],
        [16, stats(100, 14), { state: 'degraded', reason: 'low_fps', goodSamples: 1 }],
        [18, stats(130, 15), { state: 'online', reason: null }],
      ],
    },
    {
      name: 'expectedFps from the stream overrides the SDP rate',
      start: streaming,
      steps: [
        [12, { ...(stats(60, 5) as Extract<Symptom, { type: 'stream-stats' }>), expectedFps: 8 }, { badSamples: 0 }],
        [14, { ...(stats(70, 3) as Extract<Symptom, { type: 'stream-stats' }>), expectedFps: 8 }, { badSamples: 1 }],
      ],
    },
    {
      name: 'decode errors: 10 within the 10 s window → degraded at once; recovers once the window holds ≤ 2',
      start: streaming,
      steps: [
        [3, stats(40, 15, 4), { state: 'online', decodeErrorsSeen: 4, decodeErrorWindow: [{ at: T0 + 3000, count: 4 }] }],
        [5, stats(70, 15, 11), { state: 'degraded', reason: 'decode_errors', since: T0 + 5000 }],
        [7, stats(100, 15, 12), { state: 'degraded', reason: 'decode_errors' }],
        // 3 s and 5 s left the window: 1 error (at 7 s) is calm enough.
        [14, stats(200, 15, 12), { state: 'degraded', reason: 'decode_errors', decodeErrorWindow: [{ at: T0 + 5000, count: 7 }, { at: T0 + 7000, count: 1 }] }],
        [15.5, stats(220, 15, 12), { state: 'online', reason: null, since: T0 + 15_500, decodeErrorWindow: [{ at: T0 + 7000, count: 1 }] }],
      ],
    },
    {
      name: 'decode errors: 3 above the recovery level keep the verdict (hysteresis)',
      start: streaming,
      steps: [
        [3, stats(40, 15, 10), { state: 'degraded', reason: 'decode_errors' }],
        [10, stats(140, 15, 13), { state: 'degraded' }],
        [14, stats(200, 15, 13), { state: 'degraded', decodeErrorWindow: [{ at: T0 + 10_000, count: 3 }] }],
        [21, stats(300, 15, 13), { state: 'online', decodeErrorWindow: [] }],
      ],
    },
    {
      name: 'sporadic decode errors below the rate never degrade',
      start: streaming,
      steps: [
        [3, stats(40, 15, 3), { state: 'online' }],
        [7, stats(100, 15, 6), { state: 'online' }],
        [11, stats(160, 15, 9), { state: 'online' }],
        [15, stats(220, 15, 12), { state: 'online', decodeErrorWindow: [{ at: T0 + 7000, count: 3 }, { at: T0 + 11_000, count: 3 }, { at: T0 + 15_000, count: 3 }] }],
      ],
    },
    {
      name: 'the counter is per camera: a new stream does not count old errors again',
      start: streaming,
      steps: [
        [3, stats(40, 15, 8), { decodeErrorsSeen: 8 }],
        [4, { type: 'stream-ended', ok: true }, { decodeErrorsSeen: 8, decodeErrorWindow: [] }],
        [5, { type: 'stream-started' }, { decodeErrorsSeen: 8 }],
        [7, stats(30, 15, 9), { state: 'online', decodeErrorWindow: [{ at: T0 + 7000, count: 1 }] }],
      ],
    },
    {
      name: 'errors reported while no stream ran are not the new stream\'s (baseline at stream start)',
      start: streaming,
      steps: [
        [3, stats(40, 15, 8), { decodeErrorsSeen: 8 }],
        [4, { type: 'stream-ended', ok: true }, { state: 'online' }],
        // Meanwhile a substream viewer / URL snapshots reported 22 more; the main feed starts again.
        [60, { type: 'stream-started', decodeErrors: 30 }, { decodeErrorsSeen: 30 }],
        [62, stats(30, 15, 31), { state: 'online', decodeErrorWindow: [{ at: T0 + 62_000, count: 1 }] }],
        [64, stats(60, 15, 42), { state: 'degraded', reason: 'decode_errors' }],
      ],
    },
    {
      name: 'decode errors over low fps; once the errors calm down the low fps verdict shows',
      start: streaming,
      steps: [
        [12, stats(60, 5, 10), { state: 'degraded', reason: 'decode_errors', badSamples: 1 }],
        [14, stats(70, 5, 10), { state: 'degraded', reason: 'decode_errors', badSamples: 2 }],
        [23, stats(110, 5, 10), { state: 'degraded', reason: 'low_fps' }],
      ],
    },
    {
      name: 'stream ending normally clears a quality verdict and the live metrics',
      start: streaming,
      steps: [
        [3, stats(40, 15, 6), {}],
        [5, stats(70, 15, 12), { state: 'degraded', reason: 'decode_errors' }],
        [6, { type: 'stream-ended', ok: true }, { state: 'online', reason: null, fps: null, bitrateKbps: null, streaming: false, decodeErrorWindow: [] }],
      ],
    },
    {
      name: 'FFmpeg failure → degraded; the next good probe clears it',
      start: streaming,
      steps: [
        [5, { type: 'stream-ended', ok: false, reason: 'ffmpeg_failed', message: 'ffmpeg exited with code 1' }, { state: 'degraded', reason: 'ffmpeg_failed', consecutiveFailures: 1 }],
        [6, { type: 'restart' }, { restarts: 1 }],
        [15, ok, { state: 'online', reason: null }],
      ],
    },
    {
      name: 'FFmpeg failure then a failed probe → offline (failures add up)',
      start: streaming,
      steps: [
        [5, { type: 'stream-ended', ok: false, reason: 'ffmpeg_failed', message: 'ffmpeg exited' }, { state: 'degraded' }],
        [6, refused, { state: 'offline', reason: 'unreachable' }],
      ],
    },
    {
      name: 'stream refused with 401 → offline unauthorized',
      start: streaming,
      steps: [[5, { type: 'stream-ended', ok: false, reason: 'unauthorized', message: '401' }, { state: 'offline', reason: 'unauthorized' }]],
    },
    {
      name: 'a stream that ends while offline keeps the probe reason',
      steps: [
        [0, refused, {}],
        [2, refused, { state: 'offline', reason: 'unreachable' }],
        [3, { type: 'stream-ended', ok: false, reason: 'ffmpeg_failed', message: 'x' }, { state: 'offline', reason: 'unreachable' }],
      ],
    },
    {
      name: 'viewers and restarts are counters only',
      steps: [
        [0, ok, {}],
        [1, { type: 'viewers', count: 2 }, { viewers: 2, state: 'online', checkedAt: T0 }],
        [2, { type: 'restart' }, { restarts: 1 }],
        [3, { type: 'restart' }, { restarts: 2 }],
        [4, { type: 'viewers', count: -1 }, { viewers: 0 }],
      ],
    },
    {
      name: 'probe without size keeps the size the stream reported',
      start: streaming,
      steps: [
        [3, { ...(stats(40, 15) as Extract<Symptom, { type: 'stream-stats' }>), width: 1280, height: 720 }, { video: { codec: 'h264', width: 1280, height: 720, fps: 15 } }],
        [4, { type: 'probe-ok', video: { codec: 'h264' } }, { video: { codec: 'h264', width: 1280, height: 720, fps: 15 } }],
        [5, { type: 'probe-ok', video: { codec: 'h265' } }, { video: { codec: 'h265', width: null, height: null, fps: null } }],
      ],
    },
  ];
  for (const c of cases) it(c.name, () => void run(c.steps, c.start?.()));

  it('does not mutate the previous state', () => {
    const before = initialHealth(T0);
    const frozen = Object.freeze({ ...before });
    reduceHealth(frozen, ok, T0);
    reduceHealth(frozen, refused, T0);
    assert.deepEqual(frozen, before);
  });
});

describe('nextProbeDelayMs', () => {
  const mid = (): number => 0.5; // no jitter
  const at = (overrides: Partial<HealthState>): HealthState => ({ ...initialHealth(T0), checkedAt: T0, ...overrides });
  const cases: { name: string; state: HealthState; policy?: Partial<HealthPolicy>; expected: number }[] = [
    { name: 'never probed → now', state: initialHealth(T0), expected: 0 },
    { name: 'online → interval', state: at({ state: 'online' }), expected: 10_000 },
    { name: 'degraded → interval', state: at({ state: 'degraded', reason: 'low_fps' }), expected: 10_000 },
    { name: 'custom interval', state: at({ state: 'online' }), policy: { probeIntervalSeconds: 30 }, expected: 30_000 },
    { name: 'online after one miss → quick re-check', state: at({ state: 'online', consecutiveFailures: 1 }), expected: 2000 },
    { name: 'starting after one miss → quick re-check', state: at({ consecutiveFailures: 1 }), expected: 2000 },
    { name: 'offline stage 0', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 2 }), expected: 2000 },
    { name: 'offline stage 1', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 3 }), expected: 4000 },
    { name: 'offline stage 2', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 4 }), expected: 8000 },
    { name: 'offline capped', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 5 }), expected: 10_000 },
    { name: 'offline capped after hours', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 5000 }), expected: 10_000 },
    { name: 'offline by stall (no probe failures yet)', state: at({ state: 'offline', reason: 'stalled' }), expected: 2000 },
    { name: 'unauthorized → cap at once', state: at({ state: 'offline', reason: 'unauthorized', consecutiveFailures: 1 }), expected: 10_000 },
    { name: 'not_found → cap at once', state: at({ state: 'offline', reason: 'not_found', consecutiveFailures: 1 }), expected: 10_000 },
    { name: 'larger cap (user accepts slower recovery)', state: at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 6 }), policy: { offlineProbeCapMs: 60_000 }, expected: 32_000 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(nextProbeDelayMs(c.state, { ...DEFAULT_HEALTH_POLICY, ...c.policy }, mid), c.expected));
  }

  it('jitter is ±20% and never pushes an offline delay above the cap', () => {
    const online = at({ state: 'online' });
    assert.equal(nextProbeDelayMs(online, DEFAULT_HEALTH_POLICY, () => 0), 8000);
    assert.equal(nextProbeDelayMs(online, DEFAULT_HEALTH_POLICY, () => 0.999_999), 12_000);
    const stage1 = at({ state: 'offline', reason: 'unreachable', consecutiveFailures: 3 });
    assert.equal(nextProbeDelayMs(stage1, DEFAULT_HEALTH_POLICY, () => 0), 3200);
    assert.equal(nextProbeDelayMs(stage1, DEFAULT_HEALTH_POLICY, () => 0.999_999), 4800);
    for (let failures = 1; failures < 40; failures++) {
      for (const r of [0, 0.25, 0.5, 0.75, 0.999_999]) {
        for (const reason of ['unreachable', 'unauthorized'] as const) {
          const delay = nextProbeDelayMs(at({ state: 'offline', reason, consecutiveFailures: failures }), DEFAULT_HEALTH_POLICY, () => r);
          assert.ok(delay >= 1600 && delay <= DEFAULT_HEALTH_POLICY.offlineProbeCapMs, `${failures}/${r}/${reason}: ${delay}`);
        }
      }
    }
  });

  it('a camera that answers again is online within 15 s (simulated scheduler, 5 s probe timeouts)', () => {
    // Start-to-start scheduling: the next probe starts `delay` after the previous one started, or
    // when it finished if that is later. A dead camera costs a full 5 s timeout per probe.
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let worst = 0;
    for (let backAtS = 20; backAtS <= 400; backAtS += 0.7) {
      const backAt = T0 + backAtS * 1000;
      let state = reduceHealth(initialHealth(T0), ok, T0);
      let start = T0 + 10_000; // the camera dies just before this probe
      for (let i = 0; i < 1000; i++) {
        const up = start >= backAt;
        const end = start + (up ? 50 : 5000);
        state = reduceHealth(state, up ? ok : timedOut, end);
        if (up) {
          assert.equal(state.state, 'online');
          worst = Math.max(worst, end - backAt);
          break;
        }
        assert.equal(state.state, i === 0 ? 'online' : 'offline');
        start = Math.max(start + nextProbeDelayMs(state, DEFAULT_HEALTH_POLICY, random), end);
      }
    }
    assert.ok(worst > 8000 && worst <= 15_000, `worst recovery ${worst} ms`);
    console.log(`# worst simulated recovery: ${worst} ms`);
  });
});
