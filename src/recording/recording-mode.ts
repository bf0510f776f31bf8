/**
 * Copy or transcode a recording: a pure decision. HomeKit needs every fragment to start on a
 * keyframe and last no longer than the selected fragment length, so the camera's H.264 is copied
 * only when its keyframe interval fits, and its profile, level and size are what the hub selected.
 */
import type { VideoMode } from '../config/config-types.js';

export interface RecordingModeInput {
  configured: VideoMode;
  camera: {
    codec?: string;
    profileIdc?: number;
    levelIdc?: number;
    width?: number;
    height?: number;
    /** Longest keyframe interval measured in the prebuffer. */
    gopMs?: number;
  };
  selected: {
    width: number;
    height: number;
    /** 0 baseline, 1 main, 2 high (HAP's H264Profile). */
    profile: number;
    /** 0 = 3.1, 1 = 3.2, 2 = 4.0 (HAP's H264Level). */
    level: number;
    fragmentMs: number;
  };
}

export type RecordingModeDecision = { mode: 'copy' | 'transcode'; why: string };

/** Keyframe arrival times jitter by a frame or two; the GOP itself is exact in the stream's timestamps. */
const GOP_JITTER_MS = 200;
const PROFILE_RANK: Readonly<Record<number, number>> = { 66: 0, 77: 1, 100: 2 };
const LEVEL_IDC: readonly number[] = [31, 32, 40];

export function chooseRecordingMode(i: RecordingModeInput): RecordingModeDecision {
  const c = i.camera;
  const s = i.selected;
  if (i.configured === 'transcode') return { mode: 'transcode', why: 'video.mode is transcode' };
  if (c.codec?.toLowerCase() !== 'h264') return { mode: 'transcode', why: c.codec ? `the camera sends ${c.codec}` : 'the camera codec is not known yet' };
  if (c.gopMs === undefined) return { mode: 'transcode', why: 'the camera keyframe interval is not measured yet' };
  if (c.gopMs > s.fragmentMs + GOP_JITTER_MS) return { mode: 'transcode', why: `the camera keyframe interval (${Math.round(c.gopMs)} ms) is longer than a ${s.fragmentMs} ms fragment` };
  const rank = c.profileIdc === undefined ? undefined : PROFILE_RANK[c.profileIdc];
  if (rank === undefined) return { mode: 'transcode', why: `H.264 profile ${c.profileIdc ?? 'unknown'} is not one HomeKit records` };
  if (rank > s.profile) return { mode: 'transcode', why: `the camera profile (${c.profileIdc}) is above the selected one` };
  const maxLevel = LEVEL_IDC[s.level] ?? 40;
  if (c.levelIdc !== undefined && c.levelIdc > maxLevel) return { mode: 'transcode', why: `the camera level ${c.levelIdc / 10} is above the selected ${maxLevel / 10}` };
  // video.mode copy accepts the camera's own size; auto keeps the hub's selected size exactly.
  if (i.configured !== 'copy' && (c.width !== s.width || c.height !== s.height)) {
    return { mode: 'transcode', why: `the hub selected ${s.width}x${s.height}, the camera sends ${c.width ?? '?'}x${c.height ?? '?'}` };
  }
  return { mode: 'copy', why: 'the camera H.264 fits the selected recording configuration' };
}
