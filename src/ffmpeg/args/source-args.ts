/**
 * The one upstream FFmpeg per camera: reads RTSP once and re-muxes it, without decoding, into an
 * MPEG-TS byte stream on stdout that every viewer and snapshot shares.
 *
 * | flag                           | why                                                              |
 * |--------------------------------|------------------------------------------------------------------|
 * | -map 0:v:0 -c:v copy           | no decode: the camera's H.264 passes through untouched           |
 * | -bsf:v dump_extra=freq=keyframe| SPS/PPS before every keyframe so a viewer can join at any GOP    |
 * | -c:a aac                       | camera audio (often G.711) is not carried by MPEG-TS; AAC is     |
 * | -muxdelay 0 -muxpreload 0      | no artificial mux delay: live means live                         |
 * | -flush_packets 1               | hand each packet to the pipe now instead of filling a 32 KB buffer|
 */
import { LOG_ARGS, rtspInputArgs, type RtspInput } from './input-args.js';

export interface SourceArgsOptions {
  input: RtspInput;
  /** Carry the camera's first audio track (re-encoded to AAC) when any consumer may want audio. */
  audio: boolean;
  /** Audio codec the camera announced, if known: AAC can be copied as is. */
  sourceAudioCodec?: string;
}

export function sourceArgs(options: SourceArgsOptions): string[] {
  const audio = options.audio
    ? ['-map', '0:a:0?', ...(options.sourceAudioCodec?.toLowerCase().includes('aac') || options.sourceAudioCodec?.toLowerCase().includes('mpeg4-generic')
      ? ['-c:a', 'copy']
      : ['-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '1'])]
    : ['-an'];
  return [
    ...LOG_ARGS, '-nostdin', '-nostats',
    '-fflags', '+genpts',
    ...rtspInputArgs(options.input),
    '-map', '0:v:0', '-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe',
    ...audio,
    '-sn', '-dn',
    '-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1',
    'pipe:1',
  ];
}
