/**
 * `npm run bench:cameras`: the camera matrix of issue 9. Per case a fixture camera of that kind and a
 * real Homebridge with the plugin (one camera, nothing else running), a HomeKit controller viewer:
 * START → first complete IDR at the controller (median of RUNS starts, cold unless the case keeps
 * the camera prebuffered), copy or transcode as the plugin chose it, and the CPU of Homebridge and
 * every FFmpeg it runs while one viewer watches. The wrong-password case measures the time from the
 * plugin's first contact with the camera to its `unauthorized` health verdict instead.
 * Writes its table into docs/benchmarks.md between markers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countDecodeEvidence } from '../src/ffmpeg/decode-evidence.js';
import { decodeH264 } from '../test/helpers/h264-decode.js';
import { HapCameraClient, type StartStreamOptions } from '../test/helpers/hap-camera-client.js';
import { Homebridge, REPO_ROOT, TEST_PIN } from '../test/helpers/homebridge.js';
import { descendants } from '../test/helpers/processes.js';
import { RtspCamera, type RtspCameraOptions } from '../test/helpers/rtsp-camera.js';
import { waitFor } from '../test/helpers/wait.js';
import { measureCpu } from './cpu-sampler.js';
import { machineInfo, type MachineInfo } from './machine-info.js';
import { sectionMarks, writeMarkedSection } from './doc-sections.js';
import { CAMERA, FFMPEG_PATH, REQUEST } from './rigs.js';
import { median, sleep } from './stats.js';
import { installRtpRecorder } from './rtp-recorder.js';
import { analyseStream, endStream } from './stream-probe.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
const CPU_WINDOW_MS = 5000;
const FFMPEG_41 = join(REPO_ROOT, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
const NAME = 'Matrix Cam';
const SECTION = 'camera-matrix';
const { start: START_MARK, end: END_MARK } = sectionMarks(SECTION);
const TOKEN = 'Xk3pQ9vT2mLw8RzA';

interface MatrixCase {
  label: string;
  camera: RtspCameraOptions;
  /** The camera block's connection fields (source, rtspTransport, …), from the running camera. */
  config: (camera: RtspCamera) => Record<string, unknown>;
  ffmpegPath?: string;
  request?: Partial<StartStreamOptions>;
  /** Keep the feed up (a long-GOP camera's recommended setting): every start is warm. */
  prebuffer?: boolean;
  /** Measure the time to this health verdict instead of streams. */
  verdict?: 'unauthorized';
}

const CASES: MatrixCase[] = [
  { label: 'H.265 main only', camera: { codec: 'h265' }, config: (c) => ({ source: c.url }) },
  {
    // The Home app's small request: the rule copies the H.264 substream instead of transcoding the H.265 main.
    label: 'H.265 main + H.264 640x360 sub, 640x360 request',
    camera: { codec: 'h265', path: '/main', sub: { width: 640, height: 360 } },
    config: (c) => ({ source: c.url, substreams: [{ name: 'sub', source: c.subUrl }] }),
    request: { width: 640, height: 360, bitrateKbps: 500 },
  },
  {
    label: 'H.264 High + B-frames, 25 fps, AAC (Opus to the viewer)',
    camera: { profile: 'high', bframes: 2, fps: 25, audio: true, audioCodec: 'aac' },
    config: (c) => ({ source: c.url, audio: { enabled: true } }),
    request: { fps: 25, audio: { codec: 'opus', sampleRate: 16 } },
  },
  { label: 'RTSPS, token path (UniFi-style)', camera: { tls: true, path: `/${TOKEN}` }, config: (c) => ({ source: `${c.url}?enableSrtp` }) },
  {
    label: '8 s GOP at 6 Mbit/s (prebuffered)',
    camera: { gopSeconds: 8, bitrate: 6000, pattern: 'snow' }, config: (c) => ({ source: c.url }), prebuffer: true,
  },
  { label: 'UDP only', camera: { udpOnly: true }, config: (c) => ({ source: c.url, rtspTransport: 'udp' }) },
  {
    label: 'wrong password',
    camera: { user: 'admin', password: 'right-pass' }, config: (c) => ({ source: c.urlWithCredentials('admin', 'wrong-pass') }), verdict: 'unauthorized',
  },
  { label: 'FFmpeg 4.1 (@ffmpeg-installer)', camera: {}, config: (c) => ({ source: c.url }), ffmpegPath: FFMPEG_41 },
];

interface CaseResult {
  label: string;
  ffmpeg: string;
  feed: 'cold' | 'prebuffered' | '–';
  startMs: number[];
  mode: string;
  cpu: number;
  /** Damage messages when the controller decodes what it received (decode-evidence.ts). */
  clientDecodeErrors: number;
  verdictMs?: number;
  note?: string;
}

/** `5.1.9`, or for the static 4.1 build (a git snapshot) its package's version beside the git id. */
function ffmpegVersion(path: string): string {
  const version = machineInfo(path).ffmpeg.replace(/^ffmpeg version /, '').split(' ')[0] ?? '?';
  if (!version.startsWith('N-')) return version.replace(/-.*$/, '');
  const pkg = JSON.parse(readFileSync(join(path, '..', 'package.json'), 'utf8')) as { version?: string };
  return `${pkg.version ?? '?'} (${version.split('-').slice(0, 2).join('-')})`;
}

function ffmpegCount(pid: number): number {
  return descendants(pid).filter((p) => p.comm === 'ffmpeg').length;
}

/** What the plugin logged about the latest stream start: copy or transcode. */
function modeSince(hb: Homebridge, from: number): string {
  const line = hb.logs.slice(from).reverse().find((l) => /stream started \((copy|transcode)/.test(l));
  return /stream started \(copy/.test(line ?? '') ? 'copy' : /stream started \(transcode/.test(line ?? '') ? 'transcode' : '?';
}

async function runVerdict(camera: RtspCamera, hb: Homebridge): Promise<Pick<CaseResult, 'verdictMs' | 'note'>> {
  // Polled finely: the log line's arrival is the verdict's time on our clock.
  await waitFor(() => hb.logs.find((l) => /→ offline \(unauthorized\)/.test(l)), { timeoutMs: 30_000, intervalMs: 10, what: 'unauthorized verdict' });
  const at = performance.now();
  const contact = camera.eventsSince(0, 'client-connected')[0]?.receivedAt ?? Number.NaN;
  const rejected = camera.authFailures({ withCredentials: true });
  return { verdictMs: at - contact, note: `${rejected} login${rejected === 1 ? '' : 's'} with the wrong password spent` };
}

async function runStreams(c: MatrixCase, hb: Homebridge, pid: number): Promise<Pick<CaseResult, 'startMs' | 'mode' | 'cpu' | 'clientDecodeErrors'>> {
  const client = await HapCameraClient.pair({ port: await hb.accessoryPort(NAME, 30_000), pin: TEST_PIN, timeoutMs: 20_000 });
  const startMs: number[] = [];
  let mode = '?';
  let cpu = Number.NaN;
  let clientDecodeErrors = Number.NaN;
  try {
    // The prebuffered feed needs its first keyframe (up to one GOP) before every start is warm.
    if (c.prebuffer) await sleep(((c.camera.gopSeconds ?? CAMERA.gopSeconds) + 1) * 1000);
    for (let run = 0; run < RUNS; run++) {
      if (c.prebuffer) await sleep(1000);
      else await waitFor(() => ffmpegCount(pid) === 0, { timeoutMs: 20_000, intervalMs: 100, what: 'the camera feed to linger out' });
      const from = hb.logs.length;
      const stream = await client.startStream({ ...REQUEST, ...c.request });
      try {
        await waitFor(() => stream.firstIdrMs, { timeoutMs: 25_000, intervalMs: 20, what: `${c.label}: first IDR` });
        mode = modeSince(hb, from);
        if (run === RUNS - 1) {
          await sleep(1500);
          cpu = (await measureCpu(pid, 1, CPU_WINDOW_MS))[0] ?? Number.NaN;
          clientDecodeErrors = countDecodeEvidence((await decodeH264(stream.annexB())).errors);
        }
      } finally {
        await endStream(stream);
      }
      const sample = await analyseStream(stream);
      startMs.push(sample.decodes || sample.decodedFrames > 0 ? sample.firstFrameMs : Number.NaN);
      console.log(`  ${c.label} run ${run + 1}: ${sample.firstFrameMs.toFixed(0)} ms to the first IDR (${mode}, ${sample.decodedFrames} pictures decoded)`);
    }
  } finally {
    await client.close();
  }
  return { startMs, mode, cpu, clientDecodeErrors };
}

async function runCase(c: MatrixCase): Promise<CaseResult> {
  const ffmpegPath = c.ffmpegPath ?? FFMPEG_PATH;
  const ffmpeg = ffmpegVersion(ffmpegPath);
  const camera = await RtspCamera.start({ ...CAMERA, stamp: true, ...c.camera });
  let hb: Homebridge | undefined;
  try {
    hb = await Homebridge.start({
      platform: {
        ffmpegPath, sourceLingerSeconds: 1,
        cameras: [{ id: 'matrix', name: NAME, unbridge: true, prebuffer: c.prebuffer ?? false, audio: { enabled: false }, ...c.config(camera) }],
      },
      startTimeoutMs: 60_000,
    });
    const pid = hb.pid;
    if (pid === undefined) throw new Error('Homebridge is not running');
    const base = { label: c.label, ffmpeg, startMs: [], mode: '–', cpu: Number.NaN, clientDecodeErrors: Number.NaN };
    if (c.verdict) return { ...base, feed: '–', ...(await runVerdict(camera, hb)) };
    return { ...base, feed: c.prebuffer ? 'prebuffered' : 'cold', ...(await runStreams(c, hb, pid)) };
  } finally {
    await hb?.dispose();
    await camera.stop();
  }
}

function render(results: CaseResult[], seconds: number, m: MachineInfo): string {
  const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const lines = [
    START_MARK,
    '## Camera matrix (`npm run bench:cameras`)',
    '',
    `${m.cpu}, ${m.cores} cores shared with other work (load average ${m.loadAtStart} at the start: read the spread), Node ${m.node}; ${m.date.slice(0, 10)}, ${Math.round(seconds)} s for the whole run.`,
    `Fixture camera ${CAMERA.width}x${CAMERA.height} @ ${CAMERA.fps} fps, GOP ${CAMERA.gopSeconds} s, ${CAMERA.bitrate} kbit/s unless the case says otherwise;`,
    `the viewer asks ${REQUEST.width}x${REQUEST.height} @ ${REQUEST.fps} fps, ${REQUEST.bitrateKbps} kbit/s (libx264 when transcoding). One Homebridge per case.`,
    `Start: HomeKit START → the first complete IDR at the controller, median of ${RUNS} starts (cold: the camera feed had lingered out, so it includes`,
    'the RTSP connect and the wait for the camera\'s next keyframe). CPU: Homebridge and all its FFmpegs, % of one core over',
    `${CPU_WINDOW_MS / 1000} s while one viewer watches. Decode errors: damage messages when the controller decodes what it received.`,
    '',
    '| case | FFmpeg | feed | start, ms (median; runs) | mode | CPU, % of a core | decode errors |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.verdictMs !== undefined) {
      lines.push(`| ${r.label} | ${r.ffmpeg} | – | \`unauthorized\` verdict ${f(r.verdictMs)} ms after the first contact (${r.note ?? ''}) | – | – | – |`);
      continue;
    }
    const start = r.startMs.length ? `${f(median(r.startMs))} (${r.startMs.map((x) => f(x)).join(', ')})` : '–';
    lines.push(`| ${r.label} | ${r.ffmpeg} | ${r.feed} | ${start}${r.note ? `; ${r.note}` : ''} | ${r.mode} | ${f(r.cpu, 1)} | ${f(r.clientDecodeErrors)} |`);
  }
  lines.push(END_MARK);
  return lines.join('\n');
}

async function main(): Promise<void> {
  installRtpRecorder();
  const machine = machineInfo(FFMPEG_PATH);
  const started = performance.now();
  const only = process.env.BENCH_CASES?.split(',').map((s) => Number(s));
  const results: CaseResult[] = [];
  for (const [i, c] of CASES.entries()) {
    if (only && !only.includes(i + 1)) continue;
    console.log(`case ${i + 1}/${CASES.length}: ${c.label}`);
    try {
      results.push(await runCase(c));
    } catch (error) {
      // One broken case is a row that says so, not a lost run.
      const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
      console.error(`  ${c.label} failed: ${message}`);
      results.push({ label: c.label, ffmpeg: '?', feed: '–', startMs: [], mode: '–', cpu: Number.NaN, clientDecodeErrors: Number.NaN, note: `failed: ${message.slice(0, 120)}` });
    }
    console.log(`  → ${JSON.stringify(results.at(-1))}`);
  }
  const section = render(results, (performance.now() - started) / 1000, machine);
  console.log(section);
  if (!only) writeMarkedSection(SECTION, section);
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
