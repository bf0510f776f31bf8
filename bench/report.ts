/**
 * Turns the measurements into the comparison table (medians, ours / theirs), the target checks,
 * and docs/benchmarks.md (table, targets, machine, method, FFmpeg flag measurements, raw samples).
 */
import type { ViewerFlagResult, SourceFlagResult } from './ffmpeg-flags.js';
import type { MachineInfo } from './machine-info.js';
import type { CpuResults } from './phase-cpu.js';
import type { ScaleResults } from './phase-scale.js';
import { renderIssue11 } from './report-issue11.js';
import { SCALE_CAMERAS } from './phase-scale.js';
import type { SessionResults } from './phase-sessions.js';
import type { SnapshotResults } from './phase-snapshot.js';
import type { StartResults } from './phase-start.js';
import { CAMERA, LIMITS, LINGER_SECONDS, REQUEST } from './rigs.js';
import { LAG_WINDOW_MS, STEADY_FROM_MS, type StreamSample } from './stream-probe.js';
import { median } from './stats.js';

export interface BenchResults {
  machine: MachineInfo;
  runs: number;
  starts: StartResults;
  snapshots: SnapshotResults;
  sessions: SessionResults;
  cpu: CpuResults;
  scale: ScaleResults;
  viewerFlags: ViewerFlagResult[];
  sourceFlags: SourceFlagResult[];
  /** Frames per second the camera kept while stamping, over the whole run. */
  cameraFps: number;
  /** The frame rate the camera was started with. */
  cameraFpsNominal: number;
  durationS: number;
}

type Unit = 'ms' | '%' | 'MB' | 'n';

export interface Row {
  metric: string;
  ours: number;
  theirs: number;
  unit: Unit;
}

export interface Target {
  what: string;
  /** The value compared with the limit (a ratio, or our absolute value). */
  value: number;
  limit: number;
  unit: 'ratio' | 'ms' | 'n';
  met: boolean;
}

const MB = 1024 * 1024;

function fmt(value: number, unit: Unit | 'ratio'): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ms':
    case 'n':
      return String(Math.round(value));
    case '%':
    case 'MB':
      return value.toFixed(1);
    case 'ratio':
      return value.toFixed(2);
  }
}

function ratio(ours: number, theirs: number): number {
  return Number.isFinite(ours) && Number.isFinite(theirs) && theirs !== 0 ? ours / theirs : Number.NaN;
}

const m = (list: readonly StreamSample[], pick: (s: StreamSample) => number): number => median(list.map(pick));

export function buildRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  const s = r.starts;
  for (const mode of ['copy', 'transcode'] as const) {
    for (const temp of ['cold', 'warm'] as const) {
      rows.push({ metric: `START → first decoded frame, ${mode}, ${temp} (ms)`, ours: m(s.ours[mode][temp], (x) => x.firstFrameMs), theirs: m(s.theirs[mode][temp], (x) => x.firstFrameMs), unit: 'ms' });
    }
  }
  for (const mode of ['copy', 'transcode'] as const) {
    rows.push({
      metric: `START → first decoded frame minus the camera's keyframe wait, ${mode}, cold (ms)`,
      ours: m(s.ours[mode].cold, (x) => x.firstFrameMs - x.keyframeWaitMs), theirs: m(s.theirs[mode].cold, (x) => x.firstFrameMs - x.keyframeWaitMs), unit: 'ms',
    });
  }
  for (const mode of ['copy', 'transcode'] as const) {
    for (const temp of ['cold', 'warm'] as const) {
      rows.push({ metric: `Behind live ~3 s into the stream, ${mode}, ${temp} (ms)`, ours: m(s.ours[mode][temp], (x) => x.lagSteadyMs), theirs: m(s.theirs[mode][temp], (x) => x.lagSteadyMs), unit: 'ms' });
      rows.push({ metric: `Behind live, worst picture of the first ${LAG_WINDOW_MS / 1000} s, ${mode}, ${temp} (ms)`, ours: m(s.ours[mode][temp], (x) => x.lagMaxMs), theirs: m(s.theirs[mode][temp], (x) => x.lagMaxMs), unit: 'ms' });
    }
  }
  const snap = r.snapshots;
  const sm = (side: 'ours' | 'theirs', kind: 'cold' | 'warm' | 'cache', pick: 'ms' | 'ageMs'): number => median(snap[side][kind].map((x) => x[pick]));
  rows.push({ metric: 'Snapshot 640x360, cold (ms)', ours: sm('ours', 'cold', 'ms'), theirs: sm('theirs', 'cold', 'ms'), unit: 'ms' });
  rows.push({ metric: 'Snapshot 640x360, warm (ms)', ours: sm('ours', 'warm', 'ms'), theirs: sm('theirs', 'warm', 'ms'), unit: 'ms' });
  rows.push({ metric: 'Snapshot 640x360, repeated at once (cache hit) (ms)', ours: sm('ours', 'cache', 'ms'), theirs: sm('theirs', 'cache', 'ms'), unit: 'ms' });
  rows.push({ metric: 'Snapshot picture age, cold (ms)', ours: sm('ours', 'cold', 'ageMs'), theirs: sm('theirs', 'cold', 'ageMs'), unit: 'ms' });
  rows.push({ metric: 'Snapshot picture age, warm (ms)', ours: sm('ours', 'warm', 'ageMs'), theirs: sm('theirs', 'warm', 'ageMs'), unit: 'ms' });
  rows.push({ metric: 'Snapshot picture age, cache hit (ms)', ours: sm('ours', 'cache', 'ageMs'), theirs: sm('theirs', 'cache', 'ageMs'), unit: 'ms' });
  const c = r.cpu;
  const cpu = (side: 'ours' | 'theirs'): { copy: number; extra: number; transcode: number } => {
    const base = median(c[side].baseline);
    return { copy: median(c[side].copy1) - base, extra: median(c[side].copy2) - median(c[side].copy1), transcode: median(c[side].transcode1) - base };
  };
  const [co, ct] = [cpu('ours'), cpu('theirs')];
  rows.push({ metric: 'CPU, first copy viewer (% of one core)', ours: co.copy, theirs: ct.copy, unit: '%' });
  rows.push({ metric: 'CPU, extra copy viewer of the same camera (% of one core)', ours: co.extra, theirs: ct.extra, unit: '%' });
  rows.push({ metric: 'CPU, transcoding viewer (% of one core)', ours: co.transcode, theirs: ct.transcode, unit: '%' });
  rows.push({ metric: 'CPU, idle Homebridge (% of one core)', ours: median(c.ours.baseline), theirs: median(c.theirs.baseline), unit: '%' });
  rows.push({ metric: 'RSS, Homebridge process, idle (MB)', ours: c.ours.rssIdle / MB, theirs: c.theirs.rssIdle / MB, unit: 'MB' });
  rows.push({ metric: 'RSS, Homebridge + FFmpegs, 1 copy viewer (MB)', ours: c.ours.rssCopy1Tree / MB, theirs: c.theirs.rssCopy1Tree / MB, unit: 'MB' });
  const ss = r.sessions;
  rows.push({ metric: 'RTSP sessions, 1 viewer (n)', ours: ss.ours.one.sessions, theirs: ss.theirs.one.sessions, unit: 'n' });
  rows.push({ metric: 'RTSP sessions, 3 viewers + 3 snapshots at once (n)', ours: ss.ours.many.sessions, theirs: ss.theirs.many.sessions, unit: 'n' });
  rows.push({ metric: 'RTSP PLAY requests, 3 viewers + 3 snapshots at once (n)', ours: ss.ours.many.plays, theirs: ss.theirs.many.plays, unit: 'n' });
  return rows;
}

function find(rows: readonly Row[], prefix: string): Row {
  const row = rows.find((x) => x.metric.startsWith(prefix));
  if (!row) throw new Error(`no row ${prefix}`);
  return row;
}

export function buildTargets(rows: readonly Row[]): Target[] {
  const rt = (what: string, prefix: string, limit: number): Target => {
    const row = find(rows, prefix);
    const value = ratio(row.ours, row.theirs);
    return { what, value, limit, unit: 'ratio', met: value <= limit };
  };
  const abs = (what: string, prefix: string, limit: number, unit: 'ms' | 'n', exact = false): Target => {
    const value = find(rows, prefix).ours;
    return { what, value, limit, unit, met: exact ? value === limit : value <= limit };
  };
  const extra = find(rows, 'CPU, extra copy viewer').ours;
  const theirTranscode = find(rows, 'CPU, transcoding viewer').theirs;
  const cpuRatio = ratio(extra, theirTranscode);
  return [
    rt('cold start, copy (ours / theirs)', 'START → first decoded frame, copy, cold', 0.5),
    rt('cold start, transcode (ours / theirs)', 'START → first decoded frame, transcode, cold', 0.5),
    rt('warm start, copy (ours / theirs)', 'START → first decoded frame, copy, warm', 0.15),
    rt('warm start, transcode (ours / theirs)', 'START → first decoded frame, transcode, warm', 0.15),
    rt('warm snapshot (ours / theirs)', 'Snapshot 640x360, warm', 0.1),
    rt('cold snapshot (ours / theirs)', 'Snapshot 640x360, cold', 0.5),
    abs('behind live ~3 s into the stream, copy cold (ours)', 'Behind live ~3 s into the stream, copy, cold', 1200, 'ms'),
    abs('behind live ~3 s into the stream, copy warm (ours)', 'Behind live ~3 s into the stream, copy, warm', 1200, 'ms'),
    abs('behind live ~3 s into the stream, transcode cold (ours)', 'Behind live ~3 s into the stream, transcode, cold', 1200, 'ms'),
    abs('behind live ~3 s into the stream, transcode warm (ours)', 'Behind live ~3 s into the stream, transcode, warm', 1200, 'ms'),
    abs('behind live, worst picture at start, copy warm (ours)', 'Behind live, worst picture of the first 3 s, copy, warm', 1200, 'ms'),
    abs('behind live, worst picture at start, transcode warm (ours)', 'Behind live, worst picture of the first 3 s, transcode, warm', 1200, 'ms'),
    abs('RTSP sessions for 3 viewers + 3 snapshots (ours)', 'RTSP sessions, 3 viewers', 1, 'n', true),
    { what: 'CPU per extra copy viewer (ours) / camera-ffmpeg transcoding viewer', value: cpuRatio, limit: 0.25, unit: 'ratio', met: cpuRatio <= 0.25 },
  ];
}

export function renderTable(rows: readonly Row[]): string {
  const lines = ['| metric | homebridge-cctv | camera-ffmpeg | ratio (ours/theirs) |', '|---|---:|---:|---:|'];
  for (const row of rows) lines.push(`| ${row.metric} | ${fmt(row.ours, row.unit)} | ${fmt(row.theirs, row.unit)} | ${fmt(ratio(row.ours, row.theirs), 'ratio')} |`);
  return lines.join('\n');
}

export function renderTargets(targets: readonly Target[]): string {
  const lines = ['| target | measured | limit | |', '|---|---:|---:|---|'];
  for (const t of targets) {
    const limit = t.unit === 'ratio' ? `≤ ${t.limit}` : t.unit === 'n' ? `= ${t.limit}` : `≤ ${t.limit} ms`;
    lines.push(`| ${t.what} | ${fmt(t.value, t.unit)} | ${limit} | ${t.met ? 'met' : '**missed**'} |`);
  }
  return lines.join('\n');
}

function renderViewerFlags(results: readonly ViewerFlagResult[]): string {
  const lines = ['| viewer FFmpeg variant | mode | spawn → first SRTP packet, median (ms) | vs src as is (ms) | runs (ms) | failed |', '|---|---|---:|---:|---|---:|'];
  for (const r of results) {
    const base = results.find((x) => x.mode === r.mode && x.variant.startsWith('src/'));
    const delta = base && r !== base ? r.medianMs - base.medianMs : Number.NaN;
    const runs = r.samples.map((x) => (Number.isFinite(x) ? String(Math.round(x)) : '–')).join(', ');
    lines.push(`| ${r.variant} | ${r.mode} | ${fmt(r.medianMs, 'ms')} | ${r === base ? '—' : `${delta >= 0 ? '+' : ''}${fmt(delta, 'ms')}`} | ${runs} | ${r.failures}${r.error ? ` (${r.error.replace(/\|/g, '/').slice(0, 80)})` : ''} |`);
  }
  return lines.join('\n');
}

function renderSourceFlags(results: readonly SourceFlagResult[]): string {
  const lines = ['| camera-feed FFmpeg probe flags | spawn → PLAY | PLAY → camera keyframe | keyframe → first keyframe out (probe) | spawn → first keyframe out | failed |', '|---|---:|---:|---:|---:|---:|'];
  for (const r of results) lines.push(`| ${r.variant} | ${fmt(r.playMs, 'ms')} | ${fmt(r.keyframeWaitMs, 'ms')} | ${fmt(r.probeMs, 'ms')} | ${fmt(r.totalMs, 'ms')} | ${r.failures} |`);
  return lines.join('\n');
}

function renderStartSamples(r: BenchResults): string {
  const lines = ['| side | mode | start | START → first decoded frame (ms) | START → first packet (ms) | lag ~3 s (ms) | worst lag (ms) | decoded / received pictures |', '|---|---|---|---|---|---|---|---|'];
  for (const side of ['ours', 'theirs'] as const) {
    for (const mode of ['copy', 'transcode'] as const) {
      for (const temp of ['cold', 'warm'] as const) {
        const list = r.starts[side][mode][temp];
        const col = (pick: (s: StreamSample) => number): string => list.map((s) => fmt(pick(s), 'ms')).join(', ');
        const decodes = list.map((s) => `${s.decodes ? '' : '✗'}${s.decodedFrames}/${s.receivedFrames}`).join(', ');
        lines.push(`| ${side === 'ours' ? 'homebridge-cctv' : 'camera-ffmpeg'} | ${mode} | ${temp} | ${col((s) => s.firstFrameMs)} | ${col((s) => s.firstPacketMs)} | ${col((s) => s.lagSteadyMs)} | ${col((s) => s.lagMaxMs)} | ${decodes} |`);
      }
    }
  }
  return lines.join('\n');
}

function renderSnapshotSamples(r: BenchResults): string {
  const lines = ['| side | kind | latency (ms) | picture age (ms) |', '|---|---|---|---|'];
  for (const side of ['ours', 'theirs'] as const) {
    for (const kind of ['cold', 'warm', 'cache'] as const) {
      const list = r.snapshots[side][kind];
      lines.push(`| ${side === 'ours' ? 'homebridge-cctv' : 'camera-ffmpeg'} | ${kind} | ${list.map((x) => fmt(x.ms, 'ms')).join(', ')} | ${list.map((x) => fmt(x.ageMs, 'ms')).join(', ')} |`);
    }
  }
  return lines.join('\n');
}

function renderCpuSamples(r: BenchResults): string {
  const lines = ['| side | 0 viewers | 1 copy viewer | 2 copy viewers | 1 transcoding viewer |', '|---|---|---|---|---|'];
  const f = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(', ');
  for (const side of ['ours', 'theirs'] as const) {
    const c = r.cpu[side];
    lines.push(`| ${side === 'ours' ? 'homebridge-cctv' : 'camera-ffmpeg'} | ${f(c.baseline)} | ${f(c.copy1)} | ${f(c.copy2)} | ${f(c.transcode1)} |`);
  }
  return lines.join('\n');
}

/** Where a cold start goes, per plugin: medians over the cold runs, from the camera's own events. */
function coldStartBreakdown(r: BenchResults): string {
  const lines = ['| cold start, medians (ms) | START → camera answers PLAY | PLAY → camera keyframe | keyframe → first picture complete at the client | START → first picture |', '|---|---:|---:|---:|---:|'];
  for (const side of ['ours', 'theirs'] as const) {
    for (const mode of ['copy', 'transcode'] as const) {
      const list = r.starts[side][mode].cold;
      lines.push(`| ${side === 'ours' ? 'homebridge-cctv' : 'camera-ffmpeg'} ${mode} | ${fmt(m(list, (x) => x.playMs), 'ms')} | ${fmt(m(list, (x) => x.keyframeWaitMs), 'ms')} | ${fmt(m(list, (x) => x.firstFrameMs - x.playMs - x.keyframeWaitMs), 'ms')} | ${fmt(m(list, (x) => x.firstFrameMs), 'ms')} |`);
    }
  }
  return lines.join('\n');
}

export function renderMarkdown(r: BenchResults, rows: readonly Row[], targets: readonly Target[]): string {
  const mc = r.machine;
  return `# Benchmarks: homebridge-cctv vs homebridge-camera-ffmpeg

Generated by \`npm run bench\` (bench/run.ts) on ${mc.date}; the whole run took ${Math.round(r.durationS)} s.
Every number is the median of ${r.runs} runs (CPU: of ${r.runs} measurement windows). Lower is better everywhere.

${renderTable(rows)}

## Targets

${renderTargets(targets)}

## Issue 11: copy viewers without an FFmpeg each, 16 cameras on one box

Copy viewers are packetized, encrypted and sent by Node (src/rtp), one MPEG-TS parse and one packetization per camera
fanned out to its viewers. Ours: median of the runs (start and lag rows: ${r.runs} starts; CPU rows: ${r.runs} windows of 5 s),
with the min–max of those runs; camera-ffmpeg measured the same way in the same run.

${renderIssue11(r)}

The scale rigs are separate Homebridges (one per plugin, one after the other) with ${SCALE_CAMERAS} unbridged cameras on the one RTSP camera,
each camera its own RTSP session; ours \`prebuffer: true\`, copy mode, maxStreams 8; camera-ffmpeg \`vcodec: copy\`, maxStreams 8
(it keeps no feed while nobody watches). CPU is the whole process tree (Homebridge and every FFmpeg), not above idle; the
extra-viewer rows are (1 camera × 8 viewers − 1 camera × 1 viewer) / 7, the 16 prebuffered feeds running meanwhile.

## Machine

- CPU: ${mc.cpu}, ${mc.cores} cores; RAM ${mc.ramGiB} GiB
- ${mc.ffmpeg} (the same binary, \`/usr/bin/ffmpeg\`, for both plugins and the measurements)
- Node.js ${mc.node}; Homebridge from this repository's node_modules; homebridge-camera-ffmpeg 3.1.4
- Load average when the run started: ${mc.loadAtStart} (the machine is shared; medians absorb some of it)

## Method

- **Camera.** The test camera (test/fixtures/rtsp-camera.py, GStreamer RTSP server) runs one continuous x264 encoder,
  ${CAMERA.width}x${CAMERA.height} at ${CAMERA.fps} fps, ${CAMERA.bitrate} kbit/s, a keyframe every ${CAMERA.gopSeconds} s; like a real camera, a client that
  connects mid-GOP gets video from the next keyframe. With \`--stamp\` it writes the wall clock (ms, low 32 bits) into every
  raw frame before encoding, as 32 black/white cells across the top tenth of the picture. It kept ${r.cameraFps.toFixed(2)} fps while stamping.
- **Contestants.** Two real Homebridge processes on 127.0.0.1, each with two unbridged cameras on that one RTSP camera:
  this plugin (\`video.mode\` copy and transcode, \`sourceLingerSeconds: ${LINGER_SECONDS}\`, no prebuffer, no MQTT) and
  homebridge-camera-ffmpeg 3.1.4 (\`vcodec\` copy and libx264, \`source\`/\`stillImageSource\` \`-rtsp_transport tcp -i <url>\`,
  \`videoProcessor: /usr/bin/ffmpeg\`). Same limits on both: maxStreams ${LIMITS.maxStreams}, ${LIMITS.maxWidth}x${LIMITS.maxHeight}, ${LIMITS.maxFps} fps, ${LIMITS.maxBitrate} kbit/s, no audio.
- **Client.** test/helpers/hap-camera-client.ts pairs like the Home app, writes SetupEndpoints and START itself, asks for
  ${REQUEST.width}x${REQUEST.height} at ${REQUEST.fps} fps and ${REQUEST.bitrateKbps} kbit/s, sends RTCP receiver reports, authenticates and decrypts every SRTP packet.
- **START → first decoded frame.** From the START write to the arrival of the last packet (marker bit) of the first IDR
  picture; the pictures from that IDR on are then decoded with FFmpeg, and the first must decode and carry a readable stamp.
  *Cold*: the plugin runs no FFmpeg at all (for us: more than \`sourceLingerSeconds\` after the last viewer). *Warm*: a second
  viewer STARTs while the first (cold) one still watches, so our camera feed is live with its GOP cached; camera-ffmpeg has no
  shared feed, so there warm is the same mechanism as cold, measured the same way. Each START comes at a random point of the
  camera's GOP (a random 0–2 s pause first), and the two plugins alternate who goes first.
- **Behind live.** For every picture received in the first ${LAG_WINDOW_MS / 1000} s of video (counted from the first picture, so that a
  plugin that needs more than 3 s to start is measured too): arrival (Date.now() when its last packet came) minus the stamp in
  the decoded picture (time.time() in the camera when the raw frame was stamped). "~3 s into the stream" is the median over
  pictures arriving ${STEADY_FROM_MS / 1000}–${LAG_WINDOW_MS / 1000} s after the first; "worst" is the largest in that window. A copy viewer that joins a live
  feed first receives the cached GOP at once, so its first pictures are up to one GOP old.
- **Snapshots** at 640x360 through HAP's /resource. *Cold*: the plugin runs no FFmpeg, and the previous snapshot is more than
  3.5 s old. *Cache hit*: the same request again at once (our 1 s fresh-JPEG cache; camera-ffmpeg reuses its last fetch
  for 3 s and only re-scales it). *Warm*: one viewer is watching (our feed is live); each snapshot comes more than 3.5 s after
  the previous one, so neither plugin answers from a cache. Picture age = arrival (Date.now()) − the stamp in the JPEG.
- **CPU** = utime+stime of the Homebridge process and all its descendants from /proc (plus cutime+cstime of reaped
  children), over ${r.runs} consecutive windows (2 s idle, 5 s with viewers, after 2 s of settling). Per viewer = median with
  viewers − median idle; extra copy viewer = 2 copy viewers − 1 copy viewer. % of one core. The kernel counts in 10 ms ticks,
  so a 5 s window resolves 0.2 % of a core: the copy figures (around 1 %) are near that resolution (an extra copy viewer can
  even come out slightly negative), the transcoding ones are not.
  The test pattern (a ball on black) is cheap to encode; a real scene costs a transcoding viewer several times more.
- **RSS** from /proc/<pid>/status VmRSS: the Homebridge process when idle, and Homebridge plus all FFmpegs with one copy viewer.
- **RTSP sessions** as the camera counted them (SETUP → new session; PLAY requests), from a cold plugin: one viewer; then three
  viewers and three snapshots (640x360, 1280x720, 320x180) started at the same moment.
- **FFmpeg flags** are measured outside Homebridge (bench/ffmpeg-flags.ts), see below.

## Where a cold start goes

From the camera's events (same clock as the client): when it answered the plugin's PLAY and when it produced the keyframe a
client joining at that PLAY starts from. The camera's keyframe wait (0–${CAMERA.gopSeconds} s, ${CAMERA.gopSeconds / 2} s on average with its ${CAMERA.gopSeconds} s GOP) is the
same for any client; what follows it is the plugin's (probing, remux, viewer FFmpeg, encoder start, SRTP).

${coldStartBreakdown(r)}

## Reading the results

- **Cold start is mostly the camera.** A client that connects mid-GOP gets video from the camera's next keyframe, so every cold
  start waits 0–${CAMERA.gopSeconds} s for it whatever the plugin does; with ${r.runs} runs the raw medians move by hundreds of ms with that luck.
  The row "minus the camera's keyframe wait" is each plugin's own share. camera-ffmpeg's own share is mostly FFmpeg's default
  probe (it reads ~1.9 s of video to estimate a frame rate before it sends anything, see the camera-feed table below).
- **Copy viewers have no FFmpeg of their own** (src/rtp): the camera feed's MPEG-TS is parsed into access units once per
  camera, packetized once per MTU and fanned out; each viewer only writes its RTP header, encrypts (SRTP) and sends. A picture
  is handed on at its PES's last TS packet (the feed muxer's stuffing marks it, the feed flushes every packet), so what a
  cold copy start still spends after the camera's keyframe is mostly the camera-feed FFmpeg: its RTSP probe
  (\`-analyzeduration\` 0.1 s, see the camera-feed table) and the remux to MPEG-TS. Copy's distance behind live is that
  one hop more than camera-ffmpeg's direct copy.
- **Transcoding: most of our own share is the viewer FFmpeg's probe on a one-frame feed.** MPEG-TS has no header, so FFmpeg analyses
  \`-analyzeduration\` (0.5 s) of stream even when it already knows every codec; at a cold start the feed holds one frame, so
  the viewer waits for live ones: spawn → first packet ~800 ms (video only) / ~600 ms (with audio), against ~150 ms when it
  joins a live feed (measured separately, 3–4 runs each). At 0.1 s it is ~400 / ~200 ms, but with audio the analysis can then
  end before the first video PES is out when frames are far apart, and copy fails ("dimensions not set"): 0.25 s already fails
  for a 5 fps camera with audio. So it has to be chosen per camera: a video-only feed can use 0.1 s at any frame rate; with
  audio, about 2.5 frame intervals (the health probe knows the frame rate). That needs \`sharedFeedInputArgs({ fps, audio })\`
  and its two callers (stream-session, snapshot-service), not a constant.
- \`prebuffer: true\`, or a \`sourceLingerSeconds\` longer than the Home app's ~10 s snapshot polling, makes starts warm.
- **A warm copy viewer starts with the cached GOP**, sent at once with its RTP timestamps compressed to ~1 ms a frame, so a
  player that paces by timestamps runs through it and then plays the live edge (media time − wall time, in the
  \`bench:copy\` section). Its first pictures still arrive as old as the GOP's keyframe (up to ${CAMERA.gopSeconds} s, the "worst
  picture" rows measure arrival − stamp), then it runs live. Transcoding skips the cached frames and starts at the newest one.
- **Scale.** Each prebuffered camera keeps one camera-feed FFmpeg (~50 MB RSS, RTSP → MPEG-TS remux); copy viewers add
  packets, not processes. An audio viewer still adds one audio-only FFmpeg (AAC → Opus), measured in the \`bench:copy\`
  section.

## FFmpeg start-up flags

Viewer FFmpeg: the argv src/ builds (\`streamArgs\` + \`sharedFeedInputArgs\`, spawned via \`FfmpegProcess\`) reading a live
\`SharedSource\` feed (cached GOP first, then live) and sending SRTP video to a local UDP socket; one flag changed at a time;
each run joins at a random point of the GOP; ${r.runs} runs per variant, interleaved. For these measurements the camera also
has an audio track (PCMA, carried in the feed as AAC), as a camera with audio enabled would.

${renderViewerFlags(r.viewerFlags)}

Camera-feed FFmpeg: \`sourceArgs\` with the RTSP input's probe options varied (what the probe costs after the camera's first keyframe):

${renderSourceFlags(r.sourceFlags)}

## Raw samples

${renderStartSamples(r)}

${renderSnapshotSamples(r)}

CPU windows (% of one core):

${renderCpuSamples(r)}
`;
}
