/** Copy or transcode: a pure decision from the config, the camera's stream and past experience. */

export interface CameraStreamInfo {
  codec?: string;
  /** H.264 profile_idc from the SPS (66 baseline, 77 main, 100 high). */
  profileIdc?: number;
  levelIdc?: number;
  /** Picture size from the SPS, when known. */
  width?: number;
  height?: number;
}

export type ModeDecision = { mode: 'copy' | 'transcode'; why: string };

const HOMEKIT_PROFILES = new Set([66, 77, 100]);

export function chooseVideoMode(configured: 'auto' | 'copy' | 'transcode', info: CameraStreamInfo | undefined, copyFailedBefore: boolean): ModeDecision {
  if (configured !== 'auto') return { mode: configured, why: `video.mode is ${configured}` };
  if (copyFailedBefore) return { mode: 'transcode', why: 'copy gave no frames earlier' };
  const codec = info?.codec?.toLowerCase();
  if (codec && codec !== 'h264') return { mode: 'transcode', why: `the camera sends ${codec}` };
  if (info?.profileIdc !== undefined && !HOMEKIT_PROFILES.has(info.profileIdc)) {
    return { mode: 'transcode', why: `H.264 profile ${info.profileIdc} is not one HomeKit decodes` };
  }
  return { mode: 'copy', why: codec ? 'the camera sends HomeKit-compatible H.264' : 'assumed H.264 (not probed yet)' };
}
