/**
 * Copy or transcode: a pure decision from the config, what the live feed shows about the camera's
 * video (PMT stream type + SPS), what HomeKit negotiated, and past experience. The RTSP probe is
 * only a hint for when the feed has not shown its SPS (it may never have answered, and an SDP can
 * omit or misstate the codec).
 */
import type { H264Profile } from '../ffmpeg/args/stream-args.js';
import { reordersFrames, type FeedStreamInfo } from '../source/feed-stream-info.js';

/** The RTSP probe's view of the camera (from the SDP), a hint only. */
export interface CameraStreamInfo {
  codec?: string;
  /** H.264 profile_idc from the SPS (66 baseline, 77 main, 100 high). */
  profileIdc?: number;
  levelIdc?: number;
  /** Picture size from the SPS, when known. */
  width?: number;
  height?: number;
}

/** What HomeKit negotiated for this viewer, already capped by the configured maximums. */
export interface NegotiatedVideo {
  width: number;
  height: number;
  profile: H264Profile;
  /** '3.1' | '3.2' | '4.0' */
  level: string;
}

export interface ModeInputs {
  configured: 'auto' | 'copy' | 'transcode';
  feed: FeedStreamInfo | undefined;
  probe: CameraStreamInfo | undefined;
  copyFailedBefore: boolean;
  /** Absent before START (nothing negotiated yet): size, profile and level are then not checked. */
  request?: NegotiatedVideo;
  /**
   * The stream was picked among the camera's substreams as the smallest H.264 one covering the
   * request (stream-choice.ts): a picture larger than asked is then copied (HomeKit scales it).
   */
  sizeChosen?: boolean;
}

export type ModeDecision = { mode: 'copy' | 'transcode'; why: string };

/** profile_idc → how much decoder it needs (HomeKit's baseline < main < high). */
const PROFILE_RANK: Readonly<Record<number, number>> = { 66: 0, 77: 1, 100: 2 };
const REQUEST_RANK: Readonly<Record<H264Profile, number>> = { baseline: 0, main: 1, high: 2 };
const PROFILE_NAME: Readonly<Record<number, string>> = { 66: 'Baseline', 77: 'Main', 100: 'High' };

function codecLabel(codec: string): string {
  return codec === 'h265' || codec === 'hevc' ? 'H.265' : codec === 'h264' ? 'H.264' : codec;
}

function levelText(levelIdc: number): string {
  return (levelIdc / 10).toFixed(1);
}

export function chooseVideoMode(i: ModeInputs): ModeDecision {
  const feed = i.feed;
  const feedCodec = feed?.videoCodec;
  const probeCodec = i.probe?.codec?.toLowerCase();
  if (i.configured === 'copy') {
    const codec = feedCodec ?? probeCodec;
    const warn = codec && codec !== 'h264' ? ` (the feed is ${codecLabel(codec)}: HomeKit shows no picture)` : '';
    return { mode: 'copy', why: `video.mode is copy${warn}` };
  }
  if (i.configured === 'transcode') return { mode: 'transcode', why: 'video.mode is transcode' };
  if (i.copyFailedBefore) return { mode: 'transcode', why: 'copy gave no frames earlier' };

  if (feedCodec && feedCodec !== 'h264') {
    const type = feed.videoStreamType === undefined ? '' : ` (PMT stream type 0x${feed.videoStreamType.toString(16).padStart(2, '0')})`;
    return { mode: 'transcode', why: `the feed is ${feedCodec === 'h265' ? 'H.265' : 'not H.264'}${type}; HomeKit takes H.264 only` };
  }
  const sps = feed?.sps?.codec === 'h264' ? feed.sps : undefined;
  if (!feedCodec && probeCodec && probeCodec !== 'h264') {
    return { mode: 'transcode', why: `the camera announces ${codecLabel(probeCodec)} (probe; the feed has not shown its codec yet)` };
  }
  const profileIdc = sps?.profileIdc ?? i.probe?.profileIdc;
  if (profileIdc !== undefined && PROFILE_RANK[profileIdc] === undefined) {
    return { mode: 'transcode', why: `H.264 profile ${profileIdc} is not one HomeKit decodes` };
  }
  if (sps && feed && reordersFrames(feed)) {
    const how = sps.maxNumReorderFrames ? `SPS max_num_reorder_frames ${sps.maxNumReorderFrames}` : 'B slices in the feed';
    return { mode: 'transcode', why: `H.264 with B-frames (${how}); HomeKit cannot play reordered frames` };
  }
  if (sps && i.request) {
    const r = i.request;
    if (!i.sizeChosen && (sps.width > r.width || sps.height > r.height)) {
      return { mode: 'transcode', why: `the feed is ${sps.width}x${sps.height}, larger than the ${r.width}x${r.height} HomeKit asked for` };
    }
    const rank = PROFILE_RANK[sps.profileIdc] ?? 0;
    if (rank > REQUEST_RANK[r.profile]) {
      return { mode: 'transcode', why: `the feed is H.264 ${PROFILE_NAME[sps.profileIdc] ?? sps.profileIdc}, HomeKit asked for ${r.profile}` };
    }
    const requestedLevel = Math.round(Number(r.level) * 10);
    if (Number.isFinite(requestedLevel) && sps.levelIdc > requestedLevel) {
      return { mode: 'transcode', why: `the feed is H.264 level ${levelText(sps.levelIdc)}, above the ${r.level} HomeKit asked for` };
    }
  }
  if (sps) {
    return { mode: 'copy', why: `the feed is H.264 ${PROFILE_NAME[sps.profileIdc] ?? ''} ${levelText(sps.levelIdc)} ${sps.width}x${sps.height} without B-frames`.replace('  ', ' ') };
  }
  if (feedCodec || probeCodec) return { mode: 'copy', why: `the ${feedCodec ? 'feed' : 'camera'} sends H.264 (no SPS seen yet)` };
  return { mode: 'copy', why: 'assumed H.264 (the feed has not shown its codec yet)' };
}
