/**
 * HomeKit's stream requests turned into plain, validated, capped parameters. Pure: anything out of
 * range is refused with a reason instead of reaching FFmpeg.
 */
import type { CameraConfig } from '../config/config-types.js';
import type { H264Profile } from '../ffmpeg/args/stream-args.js';
import type { HapEnums } from './hap-enums.js';
import type { AudioRequest, RawAudioInfo, RawVideoInfo, VideoRequest } from './hap-request-types.js';

export type Mapped<T> = { ok: true; value: T } | { ok: false; error: string };

const int = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const num = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

export function mapVideo(enums: HapEnums, camera: Pick<CameraConfig, 'video'>, v: RawVideoInfo): Mapped<VideoRequest> {
  if (!int(v.width, 16, 7680) || !int(v.height, 16, 4320)) return { ok: false, error: `resolution ${String(v.width)}x${String(v.height)} is out of range` };
  if (!num(v.fps, 1, 120)) return { ok: false, error: `frame rate ${String(v.fps)} is out of range` };
  if (!int(v.pt, 0, 127)) return { ok: false, error: `payload type ${String(v.pt)} is out of range` };
  if (!int(v.mtu, 0, 65_507)) return { ok: false, error: `MTU ${String(v.mtu)} is out of range` };
  const profiles: Record<number, H264Profile> = { [enums.H264Profile.BASELINE]: 'baseline', [enums.H264Profile.MAIN]: 'main', [enums.H264Profile.HIGH]: 'high' };
  const levels: Record<number, string> = { [enums.H264Level.LEVEL3_1]: '3.1', [enums.H264Level.LEVEL3_2]: '3.2', [enums.H264Level.LEVEL4_0]: '4.0' };
  const caps = camera.video;
  // Keep the aspect ratio the controller asked for while fitting inside the configured caps.
  const scale = Math.min(1, caps.maxWidth / v.width, caps.maxHeight / v.height);
  // Even (H.264 4:2:0) and never above an odd cap: rounding 1281 up to 1282 would exceed maxWidth 1281.
  const even = (x: number, cap: number): number => Math.max(2, Math.min(Math.round(x / 2) * 2, cap - (cap % 2)));
  const requestedKbps = num(v.max_bit_rate, 1, 1_000_000) ? v.max_bit_rate : caps.maxBitrate;
  return {
    ok: true,
    value: {
      width: even(v.width * scale, caps.maxWidth),
      height: even(v.height * scale, caps.maxHeight),
      fps: Math.min(Math.round(v.fps), caps.maxFps),
      bitrateKbps: Math.min(requestedKbps, caps.maxBitrate),
      profile: profiles[v.profile] ?? 'main',
      level: levels[v.level] ?? '4.0',
      payloadType: v.pt,
      // HomeKit over Wi-Fi asks 1378; 0 or absurd values fall back to a safe size.
      mtu: v.mtu >= 188 ? v.mtu : 1378,
      rtcpIntervalS: num(v.rtcp_interval, 0.05, 60) ? v.rtcp_interval : 0.5,
    },
  };
}

export function mapAudio(enums: HapEnums, a: RawAudioInfo | undefined): Mapped<AudioRequest | undefined> {
  if (!a) return { ok: true, value: undefined };
  const codec = a.codec === enums.AudioStreamingCodecType.OPUS ? 'opus' : a.codec === enums.AudioStreamingCodecType.AAC_ELD ? 'aac-eld' : undefined;
  if (!codec) return { ok: true, value: undefined };
  if (!int(a.pt, 0, 127)) return { ok: false, error: `audio payload type ${String(a.pt)} is out of range` };
  const sampleRateKhz = [8, 16, 24].includes(a.sample_rate) ? a.sample_rate : 16;
  return {
    ok: true,
    value: {
      codec,
      sampleRateKhz,
      bitrateKbps: num(a.max_bit_rate, 8, 256) ? a.max_bit_rate : 24,
      channels: int(a.channel, 1, 2) ? a.channel : 1,
      packetTimeMs: [10, 20, 30, 40, 60].includes(a.packet_time) ? a.packet_time : 20,
      payloadType: a.pt,
    },
  };
}

/** SetupEndpoints keys: exactly a 16-byte key and 14-byte salt for AES_CM_128_HMAC_SHA1_80. */
export function keyAndSalt(key: unknown, salt: unknown): Buffer | undefined {
  if (!Buffer.isBuffer(key) || !Buffer.isBuffer(salt) || key.length !== 16 || salt.length !== 14) return undefined;
  return Buffer.concat([key, salt]);
}
