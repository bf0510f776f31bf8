/**
 * `npm run bench:copy`: copy viewers sent from Node (src/rtp) against one FFmpeg per copy viewer
 * (copySender "ffmpeg", the old path), in one real Homebridge on one real RTSP camera, both cameras
 * prebuffered so every start is warm. Per sender: warm START → first complete IDR (median of
 * BENCH_RUNS), then 1 and 8 viewers at once: CPU of Homebridge and all its FFmpegs above the idle
 * baseline, RSS of the tree, packets lost, and media time minus wall time (how far a player pacing
 * by RTP timestamps ends up behind live). A third camera is the Node sender with audio on (Opus, one
 * audio-only FFmpeg per viewer): the difference to the video-only Node camera is the audio path's
 * cost per viewer. Writes its table into docs/benchmarks.md between markers.
 */
import { HapCameraClient, type StreamHandle } from '../test/helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../test/helpers/homebridge.js';
import { descendants } from '../test/helpers/processes.js';
import { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { measureCpu, memory } from './cpu-sampler.js';
import { machineInfo } from './machine-info.js';
import { sectionMarks, writeMarkedSection } from './doc-sections.js';
import { CAMERA, FFMPEG_PATH, REQUEST } from './rigs.js';
import { median, sleep } from './stats.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5) || 5);
const SENDERS = ['node', 'ffmpeg', 'audio'] as const;
type Sender = (typeof SENDERS)[number];
const NAMES: Record<Sender, string> = { node: 'Node Copy', ffmpeg: 'FFmpeg Copy', audio: 'Node Copy Audio' };
const VIEWER_COUNTS = [1, 8] as const;
const WINDOW_MS = 5000;
const WINDOWS = RUNS;
const SECTION = 'copy-sender bench';
const { start: START_MARK, end: END_MARK } = sectionMarks(SECTION);

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

/** FFmpegs that send a viewer's media (SRTP/RTP out): video viewers, or audio-only ones. */
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
    `${m.cpu}, ${m.cores} cores (shared with other work: read the spread), ${m.ffmpeg}, Node ${m.node}. Camera ${CAMERA.width}x${CAMERA.height} @ ${CAMERA.fps} fps, GOP ${CAMERA.gopSeconds} s, ${CAMERA.bitrate} kbit/s; all cameras prebuffered (warm feed), the RTSP camera with a PCMA audio track; ${RUNS} warm starts per sender; CPU in ${WINDOWS} windows of ${WINDOW_MS / 1000} s, % of one core above the idle baseline (idle: ${spread(idle.cpu)} %, tree RSS ${f(idle.rssTreeMb)} MB).`,
    '',
    '| metric | Node sender | FFmpeg per viewer | Node sender + audio (audio-only FFmpeg per viewer) |',
    '|---|---|---|---|',
    `| warm START → first complete IDR, ms (median, runs) | ${spread(results.node.warmFirstIdrMs, 0)} | ${spread(results.ffmpeg.warmFirstIdrMs, 0)} | ${spread(results.audio.warmFirstIdrMs, 0)} |`,
  ];
  for (const [i, n] of VIEWER_COUNTS.entries()) {
    const [a, b, c] = SENDERS.map((x) => results[x].loads[i]);
    if (!a || !b || !c) continue;
    const row = (what: string, cell: (l: Load) => string): string => `| ${n} viewer(s): ${what} | ${cell(a)} | ${cell(b)} | ${cell(c)} |`;
    lines.push(
      row('CPU above idle, % of a core', (l) => spread(l.cpu)),
      row('tree RSS, MB', (l) => f(l.rssTreeMb)),
      row('viewer FFmpegs (video or audio)', (l) => String(l.viewerFfmpegs)),
      row('packets lost (sequence gaps) / auth or replay failures', (l) => `${l.lost} / ${l.authFailures}`),
      row('media time − wall time, ms (median of viewers)', (l) => f(l.mediaMinusWallMs)),
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
  const audioPath = (pick: (l: Load) => number): number => {
    const withAudio = results.audio.loads[1];
    const videoOnly = results.node.loads[1];
    return withAudio && videoOnly ? (pick(withAudio) - pick(videoOnly)) / (VIEWER_COUNTS[1] ?? 8) : Number.NaN;
  };
  lines.push(
    `| per extra viewer (1 → 8): CPU % of a core / RSS MB | ${f(perExtra('node'), 2)} / ${f(rssExtra('node'), 1)} | ${f(perExtra('ffmpeg'), 2)} / ${f(rssExtra('ffmpeg'), 1)} | ${f(perExtra('audio'), 2)} / ${f(rssExtra('audio'), 1)} |`,
    `| audio path per viewer (8 viewers with audio − 8 without, / 8): CPU % of a core / RSS MB | | | ${f(audioPath((l) => median(l.cpu)), 2)} / ${f(audioPath((l) => l.rssTreeMb), 1)} |`,
    '',
    'Issue 11 targets: warm START → first picture ≤ 50 ms; per extra copy viewer ≤ 0.3 % of a core and ≤ 5 MB RSS; media time − wall time ≤ 150 ms.',
    'The first-IDR time is measured at the client on loopback (arrival of the whole IDR), not on a phone\'s screen.',
    END_MARK,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  // With an audio track (PCMA, carried in the feed as AAC): the audio camera's viewers get Opus.
  const camera = await RtspCamera.start({ ...CAMERA, audio: true });
  let hb: Homebridge | undefined;
  const clients: HapCameraClient[] = [];
  try {
    const cam = (sender: Sender): Record<string, unknown> => ({
      id: `bench-${sender}`, name: NAMES[sender], source: camera.url, rtspTransport: 'tcp', unbridge: true, maxStreams: 8, prebuffer: true,
      video: { mode: 'copy', copySender: sender === 'ffmpeg' ? 'ffmpeg' : 'node', maxWidth: CAMERA.width, maxHeight: CAMERA.height, maxFps: CAMERA.fps },
      audio: { enabled: sender === 'audio' },
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
    console.log(`idle (3 prebuffered cameras): ${idleCpu.map((c) => c.toFixed(1)).join(' ')} % of a core`);
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
    writeMarkedSection(SECTION, section);
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
