/** What the resolved FFmpeg can do, probed once at start-up instead of assumed. */
import { execFile } from 'node:child_process';
import { listEncoders } from './fluent-adapter.js';

export interface FfmpegCapabilities {
  path: string;
  version: string;
  encoders: ReadonlySet<string>;
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
export function describeCapabilities(caps: FfmpegCapabilities): string {
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
  return { path, version: parseVersion(versionText), encoders };
}
