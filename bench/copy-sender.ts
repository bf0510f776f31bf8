/**
 * `npm run bench:copy`: copy viewers sent from Node (src/rtp) against one FFmpeg per copy viewer
 * (copySender "ffmpeg", the old path), in one real Homebridge on one real RTSP camera, both cameras
 * prebuffered so every start is warm. Per sender: warm START → first complete IDR (median of
 * BENCH_RUNS), then 1 and 8 viewers at once: CPU of Homebridge and all its FFmpegs above the idle
 * baseline, RSS of the tree, packets lost, and media time minus wall time (how far a player pacing
 * by RTP timestamps ends up behind live). Writes its table into docs/benchmarks.md between markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HapCameraClient, type StreamHandle } from '../test/helpers/hap-camera-client.js';
import { Homebridge, REPO_ROOT, TEST_PIN } from '../test/helpers/homebridge.js';
import { descendants } from '../test/helpers/processes.js';
import { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { measureCpu, memory } from './cpu-sampler.js';
import { machineInfo } from './machine-info.js';
import { CAMERA, FFMPEG_PATH, REQUEST } from './rigs.js';
import { median, sleep } from './stats.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5) || 5);
const SENDERS = ['node', 'ffmpeg'] as const;
type Sender = (typeof SENDERS)[number];
const NAMES: Record<Sender, string> = { node: 'Node Copy', ffmpeg: 'FFmpeg Copy' };
const VIEWER_COUNTS = [1, 8] as const;
const WINDOW_MS = 5000;
const WINDOWS = 2;
const START_MARK = '<!-- copy-sender bench: start -->';
const END_MARK = '<!-- copy-sender bench: end -->';

interface Load {
  viewers: number;
  cpu: number[];
  rssTreeMb: number;
  viewerFfmpegs: number;
  lost: number;
  authFailures: number;
  mediaMinusWallMs: number;
}

interface SenderResult {
  warmFirstIdrMs: number[];
  loads: Load[];
}

function viewerFfmpegs(pid: number): number {
  return descendants(pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args)).length;
}

async function warmStarts(client: HapCameraClient): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const stream = await client.startStream({ ...REQUEST });
    try {
      await stream.waitForFrames(1, 20_000);
      out.push(stream.firstIdrMs ?? Number.NaN);
    } finally {
      await stream.stop().catch(() => undefined);
      await stream.dispose();
    }
    await sleep(500);
  }
  return out;
}

async function load(client: HapCameraClient, pid: number, viewers: number, baseline: number): Promise<Load> {
  const streams: StreamHandle[] = [];
  try {
    for (let i = 0; i < viewers; i++) streams.push(await client.startStream({ ...REQUEST, streamIndex: i }));
    await Promise.all(streams.map((s) => s.waitForFrames(5, 30_000)));
    await sleep(2000);
    const cpu = (await measureCpu(pid, WINDOWS, WINDOW_MS)).map((c) => c - baseline);
    const rss = memory(pid).tree;
    const ffmpegs = viewerFfmpegs(pid);
    return {
      viewers,
      cpu,
      rssTreeMb: rss / 1024 / 1024,
      viewerFfmpegs: ffmpegs,
      lost: streams.reduce((sum, s) => sum + s.depacketizer.stats.gaps, 0),
      authFailures: streams.reduce((sum, s) => sum + s.authFailures + s.replays, 0),
      mediaMinusWallMs: median(streams.map((s) => s.videoMediaMinusWallMs ?? Number.NaN)),
    };
  } finally {
    await Promise.all(streams.map(async (s) => {
      await s.stop().catch(() => undefined);
      await s.dispose();
    }));
  }
}

function render(results: Record<Sender, SenderResult>, idle: { cpu: number[]; rssTreeMb: number }): string {
  const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const spread = (l: number[], d = 1): string => `${f(median(l), d)} (${l.map((x) => f(x, d)).join(', ')})`;
  const m = machineInfo(FFMPEG_PATH);
  const lines = [
    START_MARK,
    '## Copy viewers: sent from Node vs one FFmpeg per viewer (`npm run bench:copy`)',
    '',
    `${m.cpu}, ${m.cores} cores (shared with other work: read the spread), ${m.ffmpeg}, Node ${m.node}. Camera ${CAMERA.width}x${CAMERA.height} @ ${CAMERA.fps} fps, GOP ${CAMERA.gopSeconds} s, ${CAMERA.bitrate} kbit/s; both cameras prebuffered (warm feed); ${RUNS} warm starts per sender; CPU in ${WINDOWS} windows of ${WINDOW_MS / 1000} s, % of one core above the idle baseline (idle: ${spread(idle.cpu)} %, tree RSS ${f(idle.rssTreeMb)} MB).`,
    '',
    '| metric | Node sender | FFmpeg per viewer |',
    '|---|---|---|',
    `| warm START → first complete IDR, ms (median, runs) | ${spread(results.node.warmFirstIdrMs, 0)} | ${spread(results.ffmpeg.warmFirstIdrMs, 0)} |`,
  ];
  for (const [i, n] of VIEWER_COUNTS.entries()) {
    const a = results.node.loads[i];
    const b = results.ffmpeg.loads[i];
    if (!a || !b) continue;
    lines.push(
      `| ${n} viewer(s): CPU above idle, % of a core | ${spread(a.cpu)} | ${spread(b.cpu)} |`,
      `| ${n} viewer(s): tree RSS, MB | ${f(a.rssTreeMb)} | ${f(b.rssTreeMb)} |`,
      `| ${n} viewer(s): viewer FFmpegs | ${a.viewerFfmpegs} | ${b.viewerFfmpegs} |`,
      `| ${n} viewer(s): packets lost (sequence gaps) / auth or replay failures | ${a.lost} / ${a.authFailures} | ${b.lost} / ${b.authFailures} |`,
      `| ${n} viewer(s): media time − wall time, ms (median of viewers) | ${f(a.mediaMinusWallMs)} | ${f(b.mediaMinusWallMs)} |`,
    );
  }
  const perExtra = (s: Sender): number => {
    const one = results[s].loads[0];
    const eight = results[s].loads[1];
    return one && eight ? (median(eight.cpu) - median(one.cpu)) / 7 : Number.NaN;
  };
  const rssExtra = (s: Sender): number => {
    const one = results[s].loads[0];
    const eight = results[s].loads[1];
    return one && eight ? (eight.rssTreeMb - one.rssTreeMb) / 7 : Number.NaN;
  };
  lines.push(
    `| per extra viewer (1 → 8): CPU % of a core / RSS MB | ${f(perExtra('node'), 2)} / ${f(rssExtra('node'), 1)} | ${f(perExtra('ffmpeg'), 2)} / ${f(rssExtra('ffmpeg'), 1)} |`,
    '',
    'Issue 11 targets: warm START → first picture ≤ 50 ms; per extra copy viewer ≤ 0.3 % of a core and ≤ 5 MB RSS; media time − wall time ≤ 150 ms.',
    'The first-IDR time is measured at the client on loopback (arrival of the whole IDR), not on a phone\'s screen.',
    END_MARK,
  );
  return lines.join('\n');
}

function writeDoc(section: string): void {
  const path = join(REPO_ROOT, 'docs', 'benchmarks.md');
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(START_MARK);
  const b = doc.indexOf(END_MARK);
  const next = a >= 0 && b > a ? doc.slice(0, a) + section + doc.slice(b + END_MARK.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

async function main(): Promise<void> {
  const camera = await RtspCamera.start({ ...CAMERA });
  let hb: Homebridge | undefined;
  const clients: HapCameraClient[] = [];
  try {
    const cam = (sender: Sender): Record<string, unknown> => ({
      id: `bench-${sender}`, name: NAMES[sender], source: camera.url, rtspTransport: 'tcp', unbridge: true, maxStreams: 8, prebuffer: true,
      video: { mode: 'copy', copySender: sender, maxWidth: CAMERA.width, maxHeight: CAMERA.height, maxFps: CAMERA.fps }, audio: { enabled: false },
    });
    hb = await Homebridge.start({ platform: { ffmpegPath: FFMPEG_PATH, sourceLingerSeconds: 2, cameras: SENDERS.map(cam) } });
    const pid = hb.pid;
    if (pid === undefined) throw new Error('Homebridge is not running');
    const paired: Record<string, HapCameraClient> = {};
    for (const sender of SENDERS) {
      const client = await HapCameraClient.pair({ port: await hb.accessoryPort(NAMES[sender]), pin: TEST_PIN });
      clients.push(client);
      paired[sender] = client;
    }
    await sleep(5000);
    const idleCpu = await measureCpu(pid, WINDOWS, WINDOW_MS);
    const idle = { cpu: idleCpu, rssTreeMb: memory(pid).tree / 1024 / 1024 };
    const baseline = median(idleCpu);
    console.log(`idle (2 prebuffered cameras): ${idleCpu.map((c) => c.toFixed(1)).join(' ')} % of a core`);
    const results = {} as Record<Sender, SenderResult>;
    for (const sender of SENDERS) {
      const client = paired[sender];
      if (!client) throw new Error('not paired');
      const warmFirstIdrMs = await warmStarts(client);
      console.log(`${sender}: warm START → first IDR ${warmFirstIdrMs.map((x) => x.toFixed(0)).join(' ')} ms`);
      const loads: Load[] = [];
      for (const n of VIEWER_COUNTS) {
        const l = await load(client, pid, n, baseline);
        console.log(`${sender}: ${n} viewer(s) ${JSON.stringify(l)}`);
        loads.push(l);
        await sleep(1000);
      }
      results[sender] = { warmFirstIdrMs, loads };
    }
    const section = render(results, idle);
    console.log(section);
    writeDoc(section);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await hb?.dispose();
    await camera.stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
