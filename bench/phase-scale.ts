/**
 * Scale (issue 11): one Homebridge per plugin with 16 cameras on the one RTSP camera (each its own
 * RTSP session, as 16 real cameras would be), ours prebuffered in copy mode. Measured per side, CPU
 * and RSS of the whole process tree: 16 cameras idle; 8 cameras with 2 copy viewers each (packets
 * lost and SRTP failures counted at the client); one camera with 1 and then 8 copy viewers, which
 * gives the cost of an extra viewer.
 */
import { join } from 'node:path';
import { HapCameraClient, type StreamHandle } from '../test/helpers/hap-camera-client.js';
import { Homebridge, REPO_ROOT, TEST_PIN } from '../test/helpers/homebridge.js';
import { descendants } from '../test/helpers/processes.js';
import { cpuPercent, memory, sampleTree, type CpuSample } from './cpu-sampler.js';
import { FFMPEG_PATH, LIMITS, LINGER_SECONDS, REQUEST, type Side } from './rigs.js';
import { sleep } from './stats.js';
import { endStream } from './stream-probe.js';

export const SCALE_CAMERAS = 16;
/** 8 cameras × 2 viewers, and 1 camera × 8 viewers. */
export const SPREAD = { cameras: 8, viewersEach: 2 } as const;
export const PILE = 8;
const WINDOW_MS = 5000;
const SETTLE_MS = 2000;

export interface ScaleLoad {
  /** % of one core per window, the whole tree (not above idle). */
  cpu: number[];
  /** The same windows, the Homebridge process alone (where Node's copy viewers run). */
  cpuProcess: number[];
  rssTreeMb: number;
  lost: number;
  authFailures: number;
  viewerFfmpegs: number;
  viewers: number;
}

export interface ScaleResult {
  idle: ScaleLoad;
  spread: ScaleLoad;
  pile1: ScaleLoad;
  pile: ScaleLoad;
}

export type ScaleResults = Record<Side, ScaleResult>;

const name = (i: number): string => `Scale ${String(i + 1).padStart(2, '0')}`;

function platform(side: Side, url: string): Record<string, unknown> {
  if (side === 'ours') {
    return {
      platform: 'CCTV', name: 'CCTV', ffmpegPath: FFMPEG_PATH, sourceLingerSeconds: LINGER_SECONDS,
      cameras: Array.from({ length: SCALE_CAMERAS }, (_, i) => ({
        id: `scale-${i + 1}`, name: name(i), source: url, rtspTransport: 'tcp', unbridge: true, maxStreams: PILE, prebuffer: true,
        video: { mode: 'copy', maxWidth: LIMITS.maxWidth, maxHeight: LIMITS.maxHeight, maxFps: LIMITS.maxFps, maxBitrate: LIMITS.maxBitrate },
        audio: { enabled: false },
      })),
    };
  }
  const source = `-rtsp_transport tcp -i ${url}`;
  return {
    platform: 'Camera-ffmpeg', name: 'Camera FFmpeg', videoProcessor: FFMPEG_PATH,
    cameras: Array.from({ length: SCALE_CAMERAS }, (_, i) => ({
      name: name(i), unbridge: true,
      videoConfig: {
        source, stillImageSource: source, maxStreams: PILE, maxWidth: LIMITS.maxWidth, maxHeight: LIMITS.maxHeight,
        maxFPS: LIMITS.maxFps, maxBitrate: LIMITS.maxBitrate, vcodec: 'copy', audio: false,
      },
    })),
  };
}

function viewerFfmpegs(pid: number): number {
  return descendants(pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args)).length;
}

function only(sample: CpuSample, pid: number): CpuSample {
  const own = sample.procs.get(pid);
  return { at: sample.at, procs: new Map(own ? [[pid, own]] : []) };
}

async function measure(pid: number, windows: number, streams: readonly StreamHandle[]): Promise<ScaleLoad> {
  const cpu: number[] = [];
  const cpuProcess: number[] = [];
  let previous = sampleTree(pid);
  for (let i = 0; i < windows; i++) {
    await sleep(WINDOW_MS);
    const next = sampleTree(pid);
    cpu.push(cpuPercent(previous, next));
    cpuProcess.push(cpuPercent(only(previous, pid), only(next, pid)));
    previous = next;
  }
  return {
    cpu,
    cpuProcess,
    rssTreeMb: memory(pid).tree / 1024 / 1024,
    lost: streams.reduce((sum, s) => sum + s.depacketizer.stats.gaps, 0),
    authFailures: streams.reduce((sum, s) => sum + s.authFailures + s.replays, 0),
    viewerFfmpegs: viewerFfmpegs(pid),
    viewers: streams.length,
  };
}

/** Starts `plan` viewers (client index, stream index), measures, and ends them all. */
async function withViewers(clients: readonly HapCameraClient[], plan: readonly [number, number][], pid: number, windows: number): Promise<ScaleLoad> {
  const streams: StreamHandle[] = [];
  try {
    for (const [c, index] of plan) {
      const client = clients[c];
      if (!client) throw new Error(`no client ${c}`);
      streams.push(await client.startStream({ ...REQUEST, streamIndex: index }));
    }
    await Promise.all(streams.map((s) => s.waitForFrames(5, 30_000)));
    await sleep(SETTLE_MS);
    return await measure(pid, windows, streams);
  } finally {
    await Promise.allSettled(streams.map((s) => endStream(s)));
  }
}

async function measureSide(side: Side, url: string, windows: number, progress: (line: string) => void): Promise<ScaleResult> {
  const hb = await Homebridge.start({
    bridgeName: side === 'ours' ? 'Scale CCTV' : 'Scale Camera FFmpeg',
    platforms: [platform(side, url)],
    ...(side === 'theirs' ? { pluginPath: join(REPO_ROOT, 'node_modules', 'homebridge-camera-ffmpeg') } : {}),
    startTimeoutMs: 90_000,
  });
  const clients: HapCameraClient[] = [];
  try {
    const pid = hb.pid;
    if (pid === undefined) throw new Error('Homebridge is not running');
    for (let i = 0; i < SCALE_CAMERAS; i++) {
      clients.push(await HapCameraClient.pair({ port: await hb.accessoryPort(name(i), 90_000), pin: TEST_PIN, timeoutMs: 30_000 }));
    }
    // Prebuffered feeds start with the plugin; let them all reach their first keyframe.
    await sleep(8000);
    const idle = await measure(pid, windows, []);
    progress(`scale ${side}: ${SCALE_CAMERAS} cameras idle [${idle.cpu.map((x) => x.toFixed(1)).join(' ')}] % of a core, ${idle.rssTreeMb.toFixed(0)} MB`);
    const spreadPlan: [number, number][] = [];
    for (let c = 0; c < SPREAD.cameras; c++) for (let v = 0; v < SPREAD.viewersEach; v++) spreadPlan.push([c, v]);
    const spread = await withViewers(clients, spreadPlan, pid, windows);
    progress(`scale ${side}: ${SPREAD.cameras}×${SPREAD.viewersEach} [${spread.cpu.map((x) => x.toFixed(1)).join(' ')}] %, ${spread.rssTreeMb.toFixed(0)} MB, lost ${spread.lost}, auth ${spread.authFailures}`);
    await sleep(3000);
    const pile1 = await withViewers(clients, [[SCALE_CAMERAS - 1, 0]], pid, windows);
    await sleep(3000);
    const pile = await withViewers(clients, Array.from({ length: PILE }, (_, v): [number, number] => [SCALE_CAMERAS - 1, v]), pid, windows);
    progress(`scale ${side}: 1×1 [${pile1.cpu.map((x) => x.toFixed(1)).join(' ')}] %, 1×${PILE} [${pile.cpu.map((x) => x.toFixed(1)).join(' ')}] %, ${pile1.rssTreeMb.toFixed(0)} → ${pile.rssTreeMb.toFixed(0)} MB`);
    return { idle, spread, pile1, pile };
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await hb.dispose();
  }
}

export async function measureScale(url: string, windows: number, progress: (line: string) => void): Promise<ScaleResults> {
  const ours = await measureSide('ours', url, windows, progress);
  const theirs = await measureSide('theirs', url, windows, progress);
  return { ours, theirs };
}
