/**
 * Argument list for one HomeKit Secure Video recording: read the camera's shared feed (prebuffer
 * first, then live) and write fragmented MP4 to stdout, one fragment per keyframe.
 *
 * | flag                                        | why                                                       |
 * |---------------------------------------------|-----------------------------------------------------------|
 * | -c:v copy                                   | the camera's H.264 already fits (GOP <= fragment length)  |
 * | -preset veryfast -tune zerolatency -bf 0    | transcode: no lookahead (it truncates clips on slow CPUs), |
 * |                                             | no B-frames (HomeKit's recording profile has none)        |
 * | -force_key_frames expr:gte(t,n_forced*K)    | a keyframe at each fragment boundary (K = interval, s)    |
 * | -g / -keyint_min huge, -sc_threshold 0      | no other keyframes: fragments stay exactly K long         |
 * | scale+pad to the selected size              | the hub decodes at the size it selected                   |
 * | -c:a aac -profile:a aac_low                 | AAC-LC with FFmpeg's native encoder (no libfdk_aac needed) |
 * | -movflags frag_keyframe+empty_moov+         | init = ftyp+moov without samples; a fragment per keyframe, |
 * |   default_base_moof+skip_sidx+skip_trailer  | self-contained; no sidx/mfra boxes glued onto fragments    |
 * | -flush_packets 1                            | each fragment leaves FFmpeg as soon as it is complete      |
 */
import { LOG_ARGS } from './input-args.js';
import { fitEvenScaleFilters, type H264Profile } from './stream-args.js';

export type RecordingVideo =
  | { mode: 'copy' }
  | {
    mode: 'transcode';
    encoder: string;
    width: number;
    height: number;
    fps: number;
    bitrateKbps: number;
    profile: H264Profile;
    level: string;
    /** A keyframe (and so a fragment) every this many ms. */
    keyframeIntervalMs: number;
    /** FFmpeg < 4.3 (no scale force_divisible_by); see fitEvenScaleFilters. */
    legacyScale?: boolean;
  };

export interface RecordingAudio {
  sampleRateHz: number;
  channels: number;
  bitrateKbps: number;
}

export interface RecordingArgsOptions {
  input: string[];
  video: RecordingVideo;
  /** Omitted: no audio track at all (RecordingAudioActive off, or the camera has none). */
  audio?: RecordingAudio;
}

export const RECORDING_MOVFLAGS = 'frag_keyframe+empty_moov+default_base_moof+skip_sidx+skip_trailer';

export function recordingVideoArgs(v: RecordingVideo): string[] {
  if (v.mode === 'copy') return ['-c:v', 'copy'];
  const kbps = Math.max(1, Math.round(v.bitrateKbps));
  const seconds = Math.max(0.5, v.keyframeIntervalMs / 1000);
  const w = v.width;
  const h = v.height;
  return [
    '-vf', [...fitEvenScaleFilters(w, h, v.legacyScale === true), `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`, 'setsar=1', 'format=yuv420p'].join(','),
    '-r', String(v.fps),
    '-c:v', v.encoder,
    ...(v.encoder === 'libx264' ? ['-preset', 'veryfast', '-tune', 'zerolatency'] : []),
    '-profile:v', v.profile,
    ...(v.encoder === 'libx264' ? ['-level:v', v.level] : []),
    '-bf', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${seconds})`,
    '-g', String(Math.max(1, Math.round(v.fps * seconds * 2))), '-keyint_min', String(Math.max(1, Math.round(v.fps * seconds))), '-sc_threshold', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
  ];
}

export function recordingAudioArgs(a: RecordingAudio): string[] {
  return ['-c:a', 'aac', '-profile:a', 'aac_low', '-ar', String(a.sampleRateHz), '-ac', String(a.channels), '-b:a', `${Math.max(8, Math.round(a.bitrateKbps))}k`];
}

export function recordingArgs(options: RecordingArgsOptions): string[] {
  return [
    ...LOG_ARGS,
    ...options.input,
    '-map', '0:v:0',
    ...recordingVideoArgs(options.video),
    ...(options.audio ? ['-map', '0:a:0', ...recordingAudioArgs(options.audio)] : ['-an']),
    '-sn', '-dn',
    '-f', 'mp4', '-movflags', RECORDING_MOVFLAGS, '-flush_packets', '1',
    'pipe:1',
  ];
}
