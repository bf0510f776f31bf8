/** What the camera tells a home hub it can record: fMP4 fragments of H.264 and AAC-LC audio. */
import type { API, CameraRecordingOptions } from 'homebridge';
import type { CameraConfig } from '../config/config-types.js';
import { supportedResolutions } from '../hap/streaming-options.js';

/** HomeKit selects 4000 ms; up to 8 s is kept so a hub asking for more still gets it. */
export const MAX_PREBUFFER_MS = 8000;
/** Anything below 4000 ms disables HomeKit Secure Video on real hubs. */
export const FRAGMENT_MS = 4000;

interface RecordingEnums {
  H264Profile: { BASELINE: number; MAIN: number; HIGH: number };
  H264Level: { LEVEL3_1: number; LEVEL3_2: number; LEVEL4_0: number };
  AudioRecordingCodecType: { AAC_LC: number };
  AudioRecordingSamplerate: { KHZ_16: number; KHZ_24: number; KHZ_32: number; KHZ_48: number };
  MediaContainerType: { FRAGMENTED_MP4: number };
  VideoCodecType: { H264: number };
}

export function recordingOptions(hap: API['hap'], camera: CameraConfig): CameraRecordingOptions {
  const e = hap as unknown as RecordingEnums;
  const resolutions = supportedResolutions(camera);
  // HomeKit requires 15 fps besides 24/30 for the big sizes.
  for (const [w, h] of [[1920, 1080], [1280, 720]] as const) {
    if (resolutions.some(([rw, rh]) => rw === w && rh === h) && !resolutions.some(([rw, rh, f]) => rw === w && rh === h && f === 15)) resolutions.push([w, h, 15]);
  }
  const options = {
    prebufferLength: MAX_PREBUFFER_MS,
    mediaContainerConfiguration: [{ type: e.MediaContainerType.FRAGMENTED_MP4, fragmentLength: FRAGMENT_MS }],
    video: {
      type: e.VideoCodecType.H264,
      parameters: {
        profiles: [e.H264Profile.BASELINE, e.H264Profile.MAIN, e.H264Profile.HIGH],
        levels: [e.H264Level.LEVEL3_1, e.H264Level.LEVEL3_2, e.H264Level.LEVEL4_0],
      },
      resolutions,
    },
    // AAC-LC only: FFmpeg's native encoder makes it; AAC-ELD needs libfdk_aac, which Debian lacks.
    audio: {
      codecs: [{
        type: e.AudioRecordingCodecType.AAC_LC,
        audioChannels: 1,
        samplerate: [e.AudioRecordingSamplerate.KHZ_16, e.AudioRecordingSamplerate.KHZ_24, e.AudioRecordingSamplerate.KHZ_32, e.AudioRecordingSamplerate.KHZ_48],
      }],
    },
  };
  return options;
}
