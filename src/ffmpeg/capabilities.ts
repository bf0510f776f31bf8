/** What the resolved FFmpeg can do, probed once at start-up instead of assumed. */
import { execFile } from 'node:child_process';
import { listEncoders } from './fluent-adapter.js';

export interface FfmpegCapabilities {
  path: string;
  version: string;
  encoders: ReadonlySet<string>;
  /** libavformat's version: git and static builds ("N-47683-g0e8eb07980") name no release, this always is there. */
  libavformat?: LibVersion;
  features: FfmpegFeatures;
}

export interface LibVersion {
  major: number;
  minor: number;
}

/** Options that differ between the FFmpeg releases the plugin supports (4.1 … 7.x). */
export interface FfmpegFeatures {
  /** FFmpeg 4.x reads an RTSP `-timeout` as a *listen* timeout; its socket I/O timeout is `-stimeout`. */
  rtspSocketTimeout: '-timeout' | '-stimeout';
  /** `-stats_period` (FFmpeg 4.4+): without it, progress comes every 0.5 s. */
  statsPeriod: boolean;
  /** scale's `force_divisible_by` (FFmpeg 4.3+); older ones get a second scale to even sizes. */
  scaleDivisibleBy: boolean;
}

/** What a current FFmpeg (5.0+) takes; also the assumption when the version cannot be read. */
export const MODERN_FEATURES: FfmpegFeatures = { rtspSocketTimeout: '-timeout', statsPeriod: true, scaleDivisibleBy: true };

/** libavformat 58.20 is FFmpeg 4.1, the oldest release this plugin's argument lists are tested with. */
const OLDEST: LibVersion = { major: 58, minor: 20 };

/** `libavformat    58. 24.100 / 58. 24.100` from `ffmpeg -version`. */
export function parseLibavformat(output: string): LibVersion | undefined {
  const match = /libavformat\s+(\d+)\.\s*(\d+)\./.exec(output);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

const atLeast = (v: LibVersion, major: number, minor: number): boolean => v.major > major || (v.major === major && v.minor >= minor);

export function featuresOf(lavf: LibVersion | undefined): FfmpegFeatures {
  if (!lavf) return MODERN_FEATURES;
  return {
    rtspSocketTimeout: lavf.major >= 59 ? '-timeout' : '-stimeout',
    // libavformat 58.76 shipped with FFmpeg 4.4, the release that added -stats_period.
    statsPeriod: atLeast(lavf, 58, 76),
    // libavformat 58.45: FFmpeg 4.3, whose scale filter added force_divisible_by.
    scaleDivisibleBy: atLeast(lavf, 58, 45),
  };
}

/** Why this FFmpeg cannot be used, or undefined when it can. */
export function tooOld(lavf: LibVersion | undefined, version: string): string | undefined {
  if (!lavf || atLeast(lavf, OLDEST.major, OLDEST.minor)) return undefined;
  return `FFmpeg ${version} (libavformat ${lavf.major}.${lavf.minor}) is too old: homebridge-cctv needs FFmpeg 4.1 or later`;
}

/** The encoder to use: the configured one when this FFmpeg has it, else libx264 and a reason to log once. */
export function chooseEncoder(configured: string, encoders: ReadonlySet<string>): { encoder: string; warning?: string } {
  if (configured === 'h264_vaapi') {
    return { encoder: 'libx264', warning: 'video.encoder h264_vaapi is not supported (it needs a -vaapi_device/hwupload chain); using libx264' };
  }
  if (encoders.has(configured)) return { encoder: configured };
  return { encoder: 'libx264', warning: `video.encoder ${configured} is not in this FFmpeg's encoder list; using libx264` };
}

const HARDWARE_H264 = ['h264_vaapi', 'h264_qsv', 'h264_nvenc', 'h264_v4l2m2m', 'h264_videotoolbox', 'h264_omx', 'h264_amf'] as const;

/** Parses the first line of `ffmpeg -version`. */
export function parseVersion(output: string): string {
  const match = /ffmpeg version (\S+)/.exec(output);
  return match?.[1] ?? 'unknown';
}

export function hardwareEncoders(caps: Pick<FfmpegCapabilities, 'encoders'>): string[] {
  return HARDWARE_H264.filter((name) => caps.encoders.has(name));
}

/** One log line: version and the encoders that matter to HomeKit streaming. */
export function describeCapabilities(caps: Pick<FfmpegCapabilities, 'path' | 'version' | 'encoders'>): string {
  const has = (name: string): string => (caps.encoders.has(name) ? 'yes' : 'no');
  const hw = hardwareEncoders(caps);
  return `FFmpeg ${caps.version} at ${caps.path}: libx264 ${has('libx264')}, libopus ${has('libopus')}, ` +
    `libfdk_aac ${has('libfdk_aac')}, hardware H.264 encoders listed: ${hw.length ? hw.join(', ') : 'none'}`;
}

export async function probeCapabilities(path: string, signal?: AbortSignal): Promise<FfmpegCapabilities> {
  const versionText = await new Promise<string>((resolve, reject) => {
    execFile(path, ['-hide_banner', '-version'], { timeout: 10_000, signal }, (error, stdout) => {
      if (error) reject(error instanceof Error ? error : new Error(error.message));
      else resolve(stdout);
    });
  });
  const encoders = await listEncoders(path);
  const libavformat = parseLibavformat(versionText);
  const caps: FfmpegCapabilities = { path, version: parseVersion(versionText), encoders, features: featuresOf(libavformat) };
  if (libavformat) caps.libavformat = libavformat;
  return caps;
}
