/**
 * What FFmpeg's start-up flags cost or save, measured rather than guessed, outside Homebridge:
 *
 * - viewer: a viewer FFmpeg built exactly as src/ builds it (streamArgs + sharedFeedInputArgs,
 *   spawned through FfmpegProcess and fed by a live SharedSource, so it starts from the cached GOP
 *   and then reads the live feed) sending SRTP to a local UDP socket. Time from spawn to the first
 *   datagram, per input/output flag variant, joining at a random point of the camera's GOP.
 * - source: the camera-feed FFmpeg (sourceArgs) with its RTSP input's probe flags varied. Time from
 *   spawn to PLAY, PLAY to the camera's next keyframe, and that keyframe to the first keyframe on
 *   FFmpeg's stdout (the part the probe flags control).
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { sharedFeedInputArgs, rtspInputArgs } from '../src/ffmpeg/args/input-args.js';
import { sourceArgs } from '../src/ffmpeg/args/source-args.js';
import { streamArgs, type VideoOutput } from '../src/ffmpeg/args/stream-args.js';
import { FfmpegProcess } from '../src/ffmpeg/ffmpeg-process.js';
import { MpegTsIndexer } from '../src/source/mpegts-indexer.js';
import { SharedSource } from '../src/source/shared-source.js';
import type { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { median, randomBetween, sleep } from './stats.js';

export interface ViewerVariant {
  name: string;
  mode: 'copy' | 'transcode';
  /** Input half replacing sharedFeedInputArgs(). */
  input: string[];
  /** Extra output options, placed before the output's own options. */
  output?: string[];
}

export interface ViewerFlagResult {
  variant: string;
  mode: 'copy' | 'transcode';
  /** Spawn → first SRTP datagram, ms, per run (NaN: none within the bound). */
  samples: number[];
  medianMs: number;
  failures: number;
  /** First stderr line of a failed run, if any. */
  error?: string;
}

export interface SourceVariant {
  name: string;
  /** Probe options replacing -probesize/-analyzeduration of rtspInputArgs(). */
  probe: string[];
}

export interface SourceFlagResult {
  variant: string;
  /** spawn → PLAY answered by the camera. */
  playMs: number;
  /** PLAY → the camera's next keyframe (the camera's GOP, not FFmpeg). */
  keyframeWaitMs: number;
  /** That keyframe → the first keyframe on FFmpeg's stdout (probe + mux). */
  probeMs: number;
  /** spawn → first keyframe on stdout. */
  totalMs: number;
  failures: number;
}

const FFMPEG = '/usr/bin/ffmpeg';
const FIRST_PACKET_BOUND_MS = 8000;

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/**
 * Input flags as src has them, and one change at a time: the flags people suggest, FFmpeg's default
 * probe, and other probe sizes. A variant that would equal src's own argv is left out.
 */
export function viewerVariants(): ViewerVariant[] {
  const src = sharedFeedInputArgs();
  const withoutProbe = dropOptions(src, ['-probesize', '-analyzeduration']);
  const probe = (size: string, duration: string): string[] => ['-probesize', size, '-analyzeduration', duration, ...withoutProbe];
  const toggle = (option: string, value: string): { name: string; input: string[] } => src.includes(option)
    ? { name: `without ${option} ${value}`, input: dropOptions(src, [option]) }
    : { name: `+ ${option} ${value}`, input: [option, value, ...src] };
  const changes: Array<{ name: string; input: string[]; output?: string[]; modes: Array<'copy' | 'transcode'> }> = [
    { name: 'src/ffmpeg/args as is', input: src, modes: ['copy', 'transcode'] },
    { name: '+ -fflags nobuffer', input: ['-fflags', 'nobuffer', ...src], modes: ['copy', 'transcode'] },
    { ...toggle('-flags', 'low_delay'), modes: ['copy', 'transcode'] },
    { ...toggle('-fpsprobesize', '0'), modes: ['copy', 'transcode'] },
    { name: '+ -flush_packets 1 (output)', input: src, output: ['-flush_packets', '1'], modes: ['copy'] },
    { name: 'FFmpeg default probe (5 MB / 5 s)', input: withoutProbe, modes: ['copy'] },
    { name: '-probesize 32768 -analyzeduration 0.1 s', input: probe('32768', '100000'), modes: ['copy'] },
    { name: '-probesize 32 -analyzeduration 1 µs', input: probe('32', '1'), modes: ['copy', 'transcode'] },
  ];
  const variants: ViewerVariant[] = [];
  for (const mode of ['copy', 'transcode'] as const) {
    for (const c of changes) {
      const same = c.name !== 'src/ffmpeg/args as is' && c.output === undefined && JSON.stringify(c.input) === JSON.stringify(src);
      if (c.modes.includes(mode) && !same) variants.push({ name: c.name, mode, input: c.input, output: c.output });
    }
  }
  return variants;
}

export function sourceVariants(): SourceVariant[] {
  const input = rtspInputArgs({ url: 'x', transport: 'tcp' });
  const asIs = input.slice(input.indexOf('-probesize'), input.indexOf('-i'));
  const withoutFps = dropOptions(asIs, ['-fpsprobesize']);
  return [
    { name: `src/ffmpeg/args as is (${asIs.join(' ')})`, probe: asIs },
    ...(withoutFps.length !== asIs.length ? [{ name: `without -fpsprobesize 0 (${withoutFps.join(' ')})`, probe: withoutFps }] : []),
    { name: '-probesize 500000 -analyzeduration 1 s (src before the benchmark)', probe: ['-probesize', '500000', '-analyzeduration', '1000000'] },
    { name: 'FFmpeg default probe (5 MB / 5 s)', probe: [] },
    { name: '-probesize 32768 -analyzeduration 0.1 s', probe: ['-probesize', '32768', '-analyzeduration', '100000'] },
    { name: '-probesize 32 -analyzeduration 1 µs', probe: ['-probesize', '32', '-analyzeduration', '1'] },
  ];
}

/** Insert output options right after `-map 0:v:0`, i.e. before the video output's own options. */
function withOutputOptions(args: string[], extra: readonly string[] | undefined): string[] {
  if (!extra?.length) return args;
  const at = args.indexOf('-map');
  return at < 0 ? args : [...args.slice(0, at + 2), ...extra, ...args.slice(at + 2)];
}

/** One viewer FFmpeg start on the live source: spawn → first SRTP datagram (NaN on timeout). */
async function viewerStart(source: SharedSource, variant: ViewerVariant): Promise<{ ms: number; error?: string }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  socket.on('error', () => undefined);
  const gop = source.currentGop();
  const video: VideoOutput = {
    mode: variant.mode, encoder: 'libx264', width: 1280, height: 720, fps: 15, bitrateKbps: 1000, profile: 'main', level: '3.1',
    payloadType: 99, ssrc: randomBytes(4).readUInt32BE(0) || 1,
    target: { address: '127.0.0.1', port: socket.address().port, keyAndSalt: randomBytes(30), mtu: 1378, localAddress: '127.0.0.1' },
    skipFrames: variant.mode === 'transcode' && gop ? gop.frames - 1 : 0,
  };
  const args = withOutputOptions(streamArgs({ input: variant.input, video }), variant.output);
  const firstPacket = new Promise<number>((resolve) => socket.once('message', () => resolve(performance.now())));
  const started = performance.now();
  const stderr: string[] = [];
  const proc = new FfmpegProcess({ path: FFMPEG, args, stdin: true, onStderrLine: (l) => stderr.push(l), onProgress: () => undefined });
  const stdin = proc.stdin;
  const attachment = stdin ? source.attach('bench', stdin, () => undefined) : undefined;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(Number.NaN), FIRST_PACKET_BOUND_MS);
  });
  const exited = proc.exited.then(() => Number.NaN);
  try {
    const at = await Promise.race([firstPacket, bound, exited]);
    return Number.isNaN(at) ? { ms: Number.NaN, error: stderr.find((l) => l.trim()) ?? 'no packet' } : { ms: at - started };
  } finally {
    clearTimeout(timer);
    attachment?.release();
    await proc.stop('closed');
    socket.close();
  }
}

/**
 * Viewer FFmpeg start-up per flag variant, `runs` each, interleaved, random GOP phase. With `audio`
 * the feed carries the camera's audio (as AAC), as it does for a camera with audio enabled; the
 * viewer then sends video only, so the figures compare with the video-only Homebridge runs.
 */
export async function measureViewerFlags(cameraUrl: string, runs: number, progress: (line: string) => void, audio = true): Promise<ViewerFlagResult[]> {
  const source = new SharedSource({
    ffmpegPath: FFMPEG, args: { input: { url: cameraUrl, transport: 'tcp' }, audio }, lingerMs: 60_000, log: quietLog, redact: (t) => t,
  });
  const lease = source.hold();
  try {
    await source.waitForGop(15_000);
    const variants = viewerVariants();
    const samples = new Map<ViewerVariant, number[]>(variants.map((v) => [v, []]));
    const errors = new Map<ViewerVariant, string>();
    for (let run = 0; run < runs; run++) {
      for (const variant of shuffled(variants)) {
        await sleep(randomBetween(0, 2000));
        const r = await viewerStart(source, variant);
        samples.get(variant)?.push(r.ms);
        if (r.error !== undefined && !errors.has(variant)) errors.set(variant, r.error);
      }
      progress(`ffmpeg flags (viewer): run ${run + 1}/${runs} done`);
    }
    return variants.map((v) => {
      const list = samples.get(v) ?? [];
      const ok = list.filter((x) => Number.isFinite(x));
      return { variant: v.name, mode: v.mode, samples: list, medianMs: median(ok), failures: list.length - ok.length, error: errors.get(v) };
    });
  } finally {
    lease.release();
    await source.close();
  }
}

/** One camera-feed FFmpeg start with the given probe flags. */
async function sourceStart(camera: RtspCamera, variant: SourceVariant): Promise<Omit<SourceFlagResult, 'variant' | 'failures'> | undefined> {
  const input = rtspInputArgs({ url: camera.url, transport: 'tcp' });
  const at = input.indexOf('-probesize');
  const args = sourceArgs({ input: { url: camera.url, transport: 'tcp' }, audio: false });
  const inputAt = args.indexOf(input[0] ?? '-rtsp_transport');
  const patchedInput = [...input.slice(0, at), ...variant.probe, ...input.slice(input.indexOf('-i'))];
  const full = [...args.slice(0, inputAt), ...patchedInput, ...args.slice(inputAt + input.length)];
  const mark = camera.mark();
  const started = performance.now();
  const child = spawn(FFMPEG, full, { stdio: ['ignore', 'pipe', 'ignore'] });
  const indexer = new MpegTsIndexer();
  try {
    const out = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(Number.NaN), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        if (indexer.push(chunk).kinds.includes('keyframe-start')) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(Number.NaN);
      });
    });
    if (!Number.isFinite(out)) return undefined;
    const play = camera.eventsSince(mark, 'request').find((e) => e['method'] === 'PLAY')?.receivedAt;
    // The camera sends P-frames from PLAY on, so the first keyframe after PLAY is the first one FFmpeg
    // can use (its event and PLAY's can race by a few ms).
    const keyframe = camera.eventsSince(mark, 'keyframe').find((e) => e.receivedAt >= (play ?? Infinity) - 20)?.receivedAt;
    if (play === undefined || keyframe === undefined) return undefined;
    return { playMs: play - started, keyframeWaitMs: Math.max(0, keyframe - play), probeMs: out - Math.max(keyframe, play), totalMs: out - started };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  }
}

export async function measureSourceFlags(camera: RtspCamera, runs: number, progress: (line: string) => void): Promise<SourceFlagResult[]> {
  const variants = sourceVariants();
  const samples = new Map<SourceVariant, Array<Omit<SourceFlagResult, 'variant' | 'failures'> | undefined>>(variants.map((v) => [v, []]));
  for (let run = 0; run < runs; run++) {
    for (const variant of shuffled(variants)) {
      await sleep(randomBetween(0, 2000));
      samples.get(variant)?.push(await sourceStart(camera, variant));
    }
    progress(`ffmpeg flags (source): run ${run + 1}/${runs} done`);
  }
  return variants.map((v) => {
    const list = samples.get(v) ?? [];
    const ok = list.filter((x): x is NonNullable<typeof x> => x !== undefined);
    return {
      variant: v.name,
      playMs: median(ok.map((x) => x.playMs)),
      keyframeWaitMs: median(ok.map((x) => x.keyframeWaitMs)),
      probeMs: median(ok.map((x) => x.probeMs)),
      totalMs: median(ok.map((x) => x.totalMs)),
      failures: list.length - ok.length,
    };
  });
}

/** The argv without the named options and their values. */
function dropOptions(args: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (names.includes(args[i] ?? '')) i++;
    else out.push(args[i] ?? '');
  }
  return out;
}

function shuffled<T>(list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
