/**
 * `npm run bench`: homebridge-cctv against homebridge-camera-ffmpeg 3.1.4 on one real RTSP camera,
 * both in real Homebridge processes on 127.0.0.1, driven by a HomeKit client. Prints one table of
 * medians and writes it, with the machine and the method, to docs/benchmarks.md.
 *
 * BENCH_RUNS (default 5) sets the runs per metric. Everything it starts is stopped at the end, on
 * failure and on Ctrl-C.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { measureSourceFlags, measureViewerFlags } from './ffmpeg-flags.js';
import { machineInfo } from './machine-info.js';
import { measureCpuPerViewer } from './phase-cpu.js';
import { measureScale } from './phase-scale.js';
import { measureSessions } from './phase-sessions.js';
import { measureSnapshots } from './phase-snapshot.js';
import { measureStarts } from './phase-start.js';
import { buildRows, buildTargets, renderMarkdown, renderTable, renderTargets, type BenchResults } from './report.js';
import { BENCHMARKS_DOC, keepMarkedSections } from './doc-sections.js';
import { renderIssue11 } from './report-issue11.js';
import { CAMERA, FFMPEG_PATH, disposeRig, startRig, type Rig } from './rigs.js';
import { installRtpRecorder } from './rtp-recorder.js';
import { endStream, startStream } from './stream-probe.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5) || 5);
const started = performance.now();

function progress(line: string): void {
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
}

/** The camera's frame rate over the run, from its keyframe events (frame counter and clock). */
function cameraFps(camera: RtspCamera): number {
  const keyframes = camera.keyframes();
  const first = keyframes[0];
  const last = keyframes.at(-1);
  if (!first || !last || last.t <= first.t) return Number.NaN;
  return (Number(last['frame']) - Number(first['frame'])) / (last.t - first.t);
}

/** One unmeasured stream per camera, so the first measured run does not pay for cold disk caches. */
async function warmUp(rigs: readonly Rig[]): Promise<void> {
  for (const rig of rigs) {
    for (const mode of ['copy', 'transcode'] as const) {
      await endStream(await startStream(rig.clients[mode], { holdMs: 1500, lagWindow: false }));
    }
  }
}

async function main(): Promise<void> {
  installRtpRecorder();
  const machine = machineInfo(FFMPEG_PATH);
  progress(`${machine.cpu}, ${machine.cores} cores, ${machine.ffmpeg}, Node ${machine.node}; ${RUNS} runs per metric`);
  let camera: RtspCamera | undefined;
  let ours: Rig | undefined;
  let theirs: Rig | undefined;
  let stopping = false;
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([disposeRig(ours), disposeRig(theirs)]);
    ours = undefined;
    theirs = undefined;
    await camera?.stop();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    progress(`${signal}: stopping everything`);
    cleanup().catch((error: unknown) => console.error('cleanup failed:', error)).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    camera = await RtspCamera.start({ ...CAMERA, stamp: true });
    progress(`camera on ${camera.url}`);
    const [a, b] = await Promise.allSettled([startRig('ours', camera.url), startRig('theirs', camera.url)]);
    if (a.status === 'fulfilled') ours = a.value;
    if (b.status === 'fulfilled') theirs = b.value;
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    if (!ours || !theirs) throw new Error('a Homebridge did not start');
    const rigs = [ours, theirs];
    progress('both Homebridges running and paired; warming up');
    await warmUp(rigs);

    const starts = await measureStarts(camera, rigs, RUNS, progress);
    const snapshots = await measureSnapshots(rigs, RUNS, progress);
    const sessions = await measureSessions(camera, rigs, progress);
    const cpu = await measureCpuPerViewer(rigs, RUNS, progress);
    await Promise.allSettled([disposeRig(ours), disposeRig(theirs)]);
    ours = undefined;
    theirs = undefined;
    const fps = cameraFps(camera);
    const scale = await measureScale(camera.url, RUNS, progress);
    await camera.stop();
    // The flag measurements use a camera with an audio track: a probe that stops at the first packet
    // may then see audio only, which a video-only camera would hide.
    camera = await RtspCamera.start({ ...CAMERA, audio: true });
    const sourceFlags = await measureSourceFlags(camera, RUNS, progress);
    const viewerFlags = await measureViewerFlags(camera.url, RUNS, progress);

    const results: BenchResults = {
      machine, runs: RUNS, starts, snapshots, sessions, cpu, scale, viewerFlags, sourceFlags,
      cameraFps: fps, cameraFpsNominal: CAMERA.fps, durationS: (performance.now() - started) / 1000,
    };
    const rows = buildRows(results);
    const targets = buildTargets(rows);
    console.log(`\n${renderTable(rows)}\n\n${renderTargets(targets)}\n\n${renderIssue11(results)}\n`);
    // Sections other bench scripts wrote (between markers, e.g. `npm run bench:copy`) stay.
    const previous = existsSync(BENCHMARKS_DOC) ? readFileSync(BENCHMARKS_DOC, 'utf8') : '';
    writeFileSync(BENCHMARKS_DOC, keepMarkedSections(previous, renderMarkdown(results, rows, targets)));
    progress(`wrote ${BENCHMARKS_DOC}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
