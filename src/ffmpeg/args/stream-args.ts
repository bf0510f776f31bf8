/**
 * Argument list for one viewer: read the camera's shared feed, send H.264 (+ audio) as SRTP.
 *
 * | flag                                   | why                                                        |
 * |----------------------------------------|------------------------------------------------------------|
 * | -c:v copy -bsf:v dump_extra            | copy mode: SPS/PPS in-band, which HomeKit needs to start   |
 * | -preset ultrafast -tune zerolatency    | transcode: no lookahead, no B-frames, lowest CPU per viewer |
 * | -profile:v / -level:v                  | what the controller asked for in SelectedRTPStreamConfig    |
 * | -g fps*2 (+ keyint_min)                | a keyframe every 2 s lets a dropped packet heal quickly     |
 * | select=gte(n\,K),setpts=PTS-STARTPTS   | skip the K cached frames before live: start at the live edge |
 * | -application lowdelay -frame_duration  | Opus tuned for conversation, packet time as asked          |
 * | -progress pipe:3                       | frame count for time-to-first-frame and health metrics     |
 */
import { LOG_ARGS } from './input-args.js';
import { relayOutputArgs, srtpOutputArgs, type SrtpTarget } from './srtp-args.js';

export type H264Profile = 'baseline' | 'main' | 'high';

export interface VideoOutput {
  mode: 'copy' | 'transcode';
  encoder: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  profile: H264Profile;
  /** e.g. '3.1', '3.2', '4.0' */
  level: string;
  payloadType: number;
  ssrc: number;
  target: SrtpTarget;
  /** Send plain RTP to this loopback port (the plugin's SRTP relay) instead of SRTP to the target. */
  relayPort?: number;
  /** Transcode only: decoded frames to drop before the first one sent (the cached GOP before live). */
  skipFrames?: number;
  /** FFmpeg < 4.3 has no scale force_divisible_by: round to even sizes with a second scale. */
  legacyScale?: boolean;
}

export interface AudioOutput {
  codec: 'opus' | 'aac-eld';
  sampleRateKhz: number;
  bitrateKbps: number;
  channels: number;
  packetTimeMs: number;
  payloadType: number;
  ssrc: number;
  target: SrtpTarget;
  /** Send plain RTP to this loopback port (the plugin's SRTP relay) instead of SRTP to the target. */
  relayPort?: number;
}

function rtpOutputArgs(o: { target: SrtpTarget; relayPort?: number; payloadType: number; ssrc: number }): string[] {
  return o.relayPort === undefined ? srtpOutputArgs(o.target, o.payloadType, o.ssrc) : relayOutputArgs(o.relayPort, o.target.mtu, o.payloadType, o.ssrc);
}

export interface StreamArgsOptions {
  input: string[];
  video: VideoOutput;
  audio?: AudioOutput;
  /** FFmpeg 4.4+ takes -stats_period (default true); older ones report progress every 0.5 s. */
  statsPeriod?: boolean;
}

/** Scale filters that fit the picture inside width x height with even sides (x264 needs them). */
export function fitEvenScaleFilters(width: number, height: number, legacyScale: boolean): string[] {
  // FFmpeg < 4.3 has no force_divisible_by: round down to even sizes with a second scale.
  return legacyScale
    ? [`scale=${width}:${height}:force_original_aspect_ratio=decrease`, 'scale=trunc(iw/2)*2:trunc(ih/2)*2']
    : [`scale=${width}:${height}:force_original_aspect_ratio=decrease:force_divisible_by=2`];
}

export function videoEncodeArgs(v: VideoOutput): string[] {
  if (v.mode === 'copy') return ['-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe'];
  const filters: string[] = [];
  if (v.skipFrames && v.skipFrames > 0) filters.push(`select=gte(n\\,${Math.floor(v.skipFrames)})`, 'setpts=PTS-STARTPTS');
  filters.push(...fitEvenScaleFilters(v.width, v.height, v.legacyScale === true));
  filters.push('format=yuv420p');
  const kbps = Math.max(1, Math.round(v.bitrateKbps));
  const gop = String(Math.max(1, Math.round(v.fps * 2)));
  return [
    '-vf', filters.join(','),
    '-r', String(v.fps),
    '-c:v', v.encoder,
    ...(v.encoder === 'libx264' ? ['-preset', 'ultrafast', '-tune', 'zerolatency', '-x264-params', 'repeat-headers=1'] : []),
    '-profile:v', v.profile,
    ...(v.encoder === 'libx264' ? ['-level:v', v.level] : []),
    '-g', gop, '-keyint_min', gop, '-bf', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
  ];
}

/** Frame durations libopus accepts (of the packet times HomeKit asks for); it refuses 30 ms outright. */
const OPUS_FRAME_MS: readonly number[] = [10, 20, 40, 60];

export function audioEncodeArgs(a: AudioOutput): string[] {
  const codec = a.codec === 'opus'
    ? ['-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', String(OPUS_FRAME_MS.includes(a.packetTimeMs) ? a.packetTimeMs : 20)]
    : ['-c:a', 'libfdk_aac', '-profile:a', 'aac_eld', '-flags', '+global_header'];
  return [...codec, '-ac', String(a.channels), '-ar', `${a.sampleRateKhz * 1000}`, '-b:a', `${a.bitrateKbps}k`];
}

export function streamArgs(o: StreamArgsOptions): string[] {
  const args = [...LOG_ARGS, ...o.input];
  args.push('-map', '0:v:0', ...videoEncodeArgs(o.video), '-an', '-sn', '-dn',
    ...rtpOutputArgs(o.video));
  if (o.audio) {
    args.push('-map', '0:a:0', '-vn', '-sn', '-dn', ...audioEncodeArgs(o.audio),
      ...rtpOutputArgs(o.audio));
  }
  args.push('-progress', 'pipe:3', ...(o.statsPeriod === false ? [] : ['-stats_period', '0.1']), '-nostats');
  return args;
}

/**
 * Audio only, for a copy viewer whose video is sent from Node (src/rtp): the feed's audio transcoded
 * to what HomeKit asked for. `-vn` keeps FFmpeg from touching the video at all.
 */
export function audioOnlyStreamArgs(input: string[], audio: AudioOutput, statsPeriod = true): string[] {
  return [
    ...LOG_ARGS, ...input,
    '-map', '0:a:0', '-vn', '-sn', '-dn', ...audioEncodeArgs(audio),
    ...rtpOutputArgs(audio),
    '-progress', 'pipe:3', ...(statsPeriod ? ['-stats_period', '0.1'] : []), '-nostats',
  ];
}
