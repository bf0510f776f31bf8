/**
 * Just enough SDP (RFC 8866) to tell what a camera streams: media sections, `a=rtpmap`,
 * `a=fmtp` (H.264 `sprop-parameter-sets` / H.265 `sprop-sps` → SPS → size), `a=framerate`,
 * `a=x-dimensions`. Pure and forgiving: cameras write sloppy SDP.
 */
import { parseH264Sps, parseH265Sps } from './sps.js';
import type { SpsInfo } from './sps.js';

export interface RtpMap {
  encoding: string;
  clockRate: number;
  channels?: number;
}

export interface SdpMedia {
  /** `video`, `audio`, `application`, … */
  type: string;
  port: number;
  protocol: string;
  payloadTypes: number[];
  rtpmap: Map<number, RtpMap>;
  /** fmtp parameters per payload type, keys lower-cased. */
  fmtp: Map<number, Map<string, string>>;
  /** Every other `a=` line in order (`name` → value, '' for flags). */
  attributes: { name: string; value: string }[];
}

export interface SdpDescription {
  sessionAttributes: { name: string; value: string }[];
  media: SdpMedia[];
}

export interface SdpVideoInfo {
  /** FFmpeg-style codec name: `h264`, `h265`, `mjpeg`, `mpeg4`, or the lower-cased encoding. */
  codec: string;
  width?: number;
  height?: number;
  fps?: number;
  /** H.264 `profile-level-id` (6 hex digits), from fmtp or derived from the SPS. */
  profileLevelId?: string;
  /** The decoded SPS (size after cropping, profile, chroma format), when the SDP carries one. */
  sps?: SpsInfo;
}

export interface SdpAudioInfo {
  codec: string;
  sampleRate: number;
  channels: number;
}

/** Static RTP payload types (RFC 3551) that cameras use without an rtpmap line. */
const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, RtpMap> = new Map([
  [0, { encoding: 'PCMU', clockRate: 8000, channels: 1 }],
  [8, { encoding: 'PCMA', clockRate: 8000, channels: 1 }],
  [14, { encoding: 'MPA', clockRate: 90000 }],
  [26, { encoding: 'JPEG', clockRate: 90000 }],
  [32, { encoding: 'MPV', clockRate: 90000 }],
]);

const CODEC_NAMES: Readonly<Record<string, string>> = {
  H264: 'h264',
  H265: 'h265',
  HEVC: 'h265',
  JPEG: 'mjpeg',
  'MP4V-ES': 'mpeg4',
  MPV: 'mpeg2video',
  'MPEG4-GENERIC': 'aac',
  'MP4A-LATM': 'aac',
  MPA: 'mp3',
  PCMU: 'pcm_mulaw',
  PCMA: 'pcm_alaw',
  OPUS: 'opus',
};

export function codecName(encoding: string): string {
  const upper = encoding.toUpperCase();
  return CODEC_NAMES[upper] ?? encoding.toLowerCase();
}

function splitAttribute(line: string): { name: string; value: string } {
  const colon = line.indexOf(':');
  return colon < 0 ? { name: line, value: '' } : { name: line.slice(0, colon), value: line.slice(colon + 1).trim() };
}

export function parseSdp(text: string): SdpDescription {
  const description: SdpDescription = { sessionAttributes: [], media: [] };
  let current: SdpMedia | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const kind = line[0];
    const body = line.slice(2);
    if (kind === 'm') {
      const [type = '', port = '0', protocol = '', ...formats] = body.split(/\s+/);
      current = {
        type: type.toLowerCase(),
        port: Number.parseInt(port, 10) || 0,
        protocol,
        payloadTypes: formats.map((f) => Number.parseInt(f, 10)).filter((n) => Number.isInteger(n) && n >= 0),
        rtpmap: new Map(),
        fmtp: new Map(),
        attributes: [],
      };
      description.media.push(current);
      continue;
    }
    if (kind !== 'a') continue;
    const attribute = splitAttribute(body);
    if (!current) {
      description.sessionAttributes.push(attribute);
      continue;
    }
    const name = attribute.name.toLowerCase();
    if (name === 'rtpmap') {
      // a=rtpmap:96 H264/90000[/channels]
      const m = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(attribute.value);
      if (m?.[1] && m[2] && m[3]) {
        const map: RtpMap = { encoding: m[2], clockRate: Number.parseInt(m[3], 10) };
        if (m[4]) map.channels = Number.parseInt(m[4], 10);
        current.rtpmap.set(Number.parseInt(m[1], 10), map);
      }
    } else if (name === 'fmtp') {
      // a=fmtp:96 packetization-mode=1;profile-level-id=640028;sprop-parameter-sets=Z2Q…,aO4…
      const m = /^(\d+)\s+(.*)$/.exec(attribute.value);
      if (m?.[1] && m[2] !== undefined) {
        const params = new Map<string, string>();
        for (const part of m[2].split(';')) {
          const eq = part.indexOf('=');
          if (eq <= 0) continue;
          params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
        }
        current.fmtp.set(Number.parseInt(m[1], 10), params);
      }
    } else {
      current.attributes.push(attribute);
    }
  }
  return description;
}

function rtpmapFor(media: SdpMedia, pt: number): RtpMap | undefined {
  return media.rtpmap.get(pt) ?? STATIC_PAYLOAD_TYPES.get(pt);
}

function attribute(media: SdpMedia, ...names: string[]): string | undefined {
  return media.attributes.find((a) => names.includes(a.name.toLowerCase()))?.value;
}

function base64ToBytes(b64: string): Uint8Array | undefined {
  const clean = b64.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(clean)) return undefined;
  const bytes = Buffer.from(clean, clean.includes('-') || clean.includes('_') ? 'base64url' : 'base64');
  return bytes.length > 0 ? new Uint8Array(bytes) : undefined;
}

function findSps(codec: string, fmtp: Map<string, string> | undefined): { sps: SpsInfo; nal: Uint8Array } | undefined {
  const parse = codec === 'h264' ? parseH264Sps : codec === 'h265' ? parseH265Sps : undefined;
  const sets = codec === 'h264' ? fmtp?.get('sprop-parameter-sets') : fmtp?.get('sprop-sps');
  if (!parse || !sets) return undefined;
  for (const set of sets.split(',')) {
    const nal = base64ToBytes(set);
    const sps = nal && parse(nal);
    if (nal && sps) return { sps, nal };
  }
  return undefined;
}

function positiveNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number.parseFloat(text);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function describeVideo(media: SdpMedia): SdpVideoInfo | undefined {
  const pt = media.payloadTypes[0];
  if (pt === undefined) return undefined;
  const map = rtpmapFor(media, pt);
  const codec = map ? codecName(map.encoding) : `rtp-${pt}`;
  const fmtp = media.fmtp.get(pt);
  const info: SdpVideoInfo = { codec };

  const found = findSps(codec, fmtp);
  const sps = found?.sps;
  if (sps) {
    info.sps = sps;
    info.width = sps.width;
    info.height = sps.height;
  }
  // a=x-dimensions:1920,1080 (some cameras) when there is no usable SPS.
  const dims = /^(\d+)\s*,\s*(\d+)/.exec(attribute(media, 'x-dimensions') ?? '');
  if (info.width === undefined && dims?.[1] && dims[2]) {
    info.width = Number.parseInt(dims[1], 10);
    info.height = Number.parseInt(dims[2], 10);
  }

  const fps = positiveNumber(attribute(media, 'framerate', 'x-framerate')) ?? sps?.fps;
  if (fps !== undefined) info.fps = Math.round(fps * 1000) / 1000;

  const pli = fmtp?.get('profile-level-id');
  if (codec === 'h264') {
    if (pli && /^[0-9a-f]{6}$/i.test(pli)) info.profileLevelId = pli.toLowerCase();
    // Otherwise profile_idc, constraint flags and level_idc straight from the SPS bytes.
    else if (found) info.profileLevelId = Buffer.from(found.nal.subarray(1, 4)).toString('hex');
  }
  return info;
}

function describeAudio(media: SdpMedia): SdpAudioInfo | undefined {
  const pt = media.payloadTypes[0];
  if (pt === undefined) return undefined;
  const map = rtpmapFor(media, pt);
  if (!map) return { codec: `rtp-${pt}`, sampleRate: 0, channels: 1 };
  return { codec: codecName(map.encoding), sampleRate: map.clockRate, channels: map.channels ?? 1 };
}

/** The first video and first audio stream of an SDP, as a probe reports them. */
export function describeSdp(text: string): { video?: SdpVideoInfo; audio?: SdpAudioInfo } {
  const sdp = parseSdp(text);
  const result: { video?: SdpVideoInfo; audio?: SdpAudioInfo } = {};
  // A disabled stream has port 0 only in offers; RTSP cameras send 0 as "any", so do not filter on it.
  const videoMedia = sdp.media.find((m) => m.type === 'video');
  const audioMedia = sdp.media.find((m) => m.type === 'audio');
  const video = videoMedia && describeVideo(videoMedia);
  const audio = audioMedia && describeAudio(audioMedia);
  if (video) result.video = video;
  if (audio) result.audio = audio;
  return result;
}
