/** What the camera tells HomeKit it can do, derived from its config and the probed FFmpeg. */
import type { API, CameraStreamingOptions } from 'homebridge';
import type { CameraConfig } from '../config/config-types.js';
import { hapEnums } from './hap-enums.js';

/** HomeKit's usual sizes; 320x240@15 must stay for Apple Watch. */
const RESOLUTIONS: ReadonlyArray<readonly [number, number, number]> = [
  [1920, 1080, 30], [1280, 960, 30], [1280, 720, 30], [1024, 768, 30], [640, 480, 30], [640, 360, 30],
  [480, 360, 30], [480, 270, 30], [320, 240, 30], [320, 240, 15], [320, 180, 30],
];

export function supportedResolutions(camera: Pick<CameraConfig, 'video'>): Array<[number, number, number]> {
  const { maxWidth, maxHeight, maxFps } = camera.video;
  const out = RESOLUTIONS
    .filter(([w, h]) => w <= maxWidth && h <= maxHeight)
    .map(([w, h, fps]): [number, number, number] => [w, h, Math.min(fps, maxFps)])
    // maxFps below 30 turns e.g. 320x240@30 into a second 320x240@15: advertise each entry once.
    .filter(([w, h, fps], i, all) => all.findIndex(([w2, h2, fps2]) => w2 === w && h2 === h && fps2 === fps) === i);
  if (!out.some(([w, h, fps]) => w === 320 && h === 240 && fps === 15)) out.push([320, 240, 15]);
  return out;
}

export function streamingOptions(api: API['hap'], camera: CameraConfig, encoders: ReadonlySet<string>): CameraStreamingOptions {
  const hap = hapEnums(api);
  const codecs: Array<{ type: string; samplerate: number | number[] }> = [];
  if (encoders.has('libfdk_aac') && camera.audio.codec !== 'opus') {
    codecs.push({ type: hap.AudioStreamingCodecType.AAC_ELD, samplerate: hap.AudioStreamingSamplerate.KHZ_16 });
  }
  if (camera.audio.codec !== 'aac-eld' || codecs.length === 0) {
    codecs.push({ type: hap.AudioStreamingCodecType.OPUS, samplerate: [hap.AudioStreamingSamplerate.KHZ_16, hap.AudioStreamingSamplerate.KHZ_24] });
  }
  const options = {
    supportedCryptoSuites: [hap.SRTPCryptoSuites.AES_CM_128_HMAC_SHA1_80],
    video: {
      resolutions: supportedResolutions(camera),
      codec: {
        profiles: [hap.H264Profile.BASELINE, hap.H264Profile.MAIN, hap.H264Profile.HIGH],
        levels: [hap.H264Level.LEVEL3_1, hap.H264Level.LEVEL3_2, hap.H264Level.LEVEL4_0],
      },
    },
    audio: { twoWayAudio: false, codecs },
  };
  return options;
}
