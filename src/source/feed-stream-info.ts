/**
 * What the live feed itself says about the camera's streams: the PMT's stream types and the SPS
 * in front of each keyframe. This, not the RTSP probe, decides copy vs transcode: the probe may
 * never have answered (first START after a restart) and an SDP can omit or misstate the codec.
 * Pure helpers over PES payload bytes; the indexer feeds them.
 */
import { parseH264Sps, parseH265Sps, type SpsInfo } from '../health/sps.js';

export type FeedVideoCodec = 'h264' | 'h265' | 'other';
export type FeedAudioCodec = 'aac' | 'aac-latm' | 'mp2' | 'ac3' | 'opus' | 'other';

export interface FeedStreamInfo {
  /** From the PMT stream type (0x1b H.264, 0x24 H.265). */
  videoCodec?: FeedVideoCodec;
  videoStreamType?: number;
  audioCodec?: FeedAudioCodec;
  audioStreamType?: number;
  /** The newest SPS seen in front of a keyframe. */
  sps?: SpsInfo;
  /** Pictures after a keyframe whose first slice header was read (bounded). */
  slicesChecked: number;
  /** A B slice was seen: the stream reorders frames even if its SPS does not say so. */
  bSlicesSeen: boolean;
}

/** PMT stream_type → codec. 0x06 (private) is how FFmpeg's muxer carries Opus. */
export function videoCodecOf(streamType: number): FeedVideoCodec {
  return streamType === 0x1b ? 'h264' : streamType === 0x24 ? 'h265' : 'other';
}

export function audioCodecOf(streamType: number): FeedAudioCodec {
  switch (streamType) {
  case 0x0f: return 'aac';
  case 0x11: return 'aac-latm';
  case 0x03: case 0x04: return 'mp2';
  case 0x81: return 'ac3';
  case 0x06: return 'opus';
  default: return 'other';
  }
}

export const VIDEO_STREAM_TYPES: ReadonlySet<number> = new Set([0x1b, 0x24, 0x01, 0x02, 0x10]);
export const AUDIO_STREAM_TYPES: ReadonlySet<number> = new Set([0x0f, 0x11, 0x03, 0x04, 0x81, 0x06]);

/** The elementary-stream bytes of a PES packet's first TS packet payload (skips the PES header). */
export function pesPayload(payload: Buffer): Buffer | undefined {
  if (payload.length < 9 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) return undefined;
  const headerLength = payload[8] ?? 0;
  const start = 9 + headerLength;
  return start <= payload.length ? payload.subarray(start) : undefined;
}

/** Annex-B NAL units (start codes 00 00 01 / 00 00 00 01); the last one may be cut off. */
export function nalUnits(es: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < es.length; i++) {
    if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((start, k) => {
    let end = k + 1 < starts.length ? (starts[k + 1] ?? es.length) - 3 : es.length;
    // A 4-byte start code leaves one zero before the next 00 00 01.
    while (end > start && es[end - 1] === 0) end--;
    return es.subarray(start, end);
  });
}

/** The SPS among a keyframe's NAL units. */
export function findSps(codec: FeedVideoCodec, nals: readonly Buffer[]): SpsInfo | undefined {
  for (const nal of nals) {
    if (codec === 'h264' && ((nal[0] ?? 0) & 0x1f) === 7) return parseH264Sps(nal);
    if (codec === 'h265' && (((nal[0] ?? 0) >> 1) & 0x3f) === 33) return parseH265Sps(nal);
  }
  return undefined;
}

/**
 * slice_type of the first H.264 slice (NAL type 1 or 5) in a picture's NAL units: 'B', 'P', 'I'
 * (SI/SP count as P/I), or undefined when no slice header is in these bytes.
 */
export function firstSliceType(nals: readonly Buffer[]): 'B' | 'P' | 'I' | undefined {
  for (const nal of nals) {
    const type = (nal[0] ?? 0) & 0x1f;
    if (type !== 1 && type !== 5) continue;
    // first_mb_in_slice ue(v), then slice_type ue(v); a few bytes suffice (no emulation bytes this early).
    const bits = new SliceBits(nal.subarray(1, 9));
    if (bits.ue() === undefined) return undefined;
    const sliceType = bits.ue();
    if (sliceType === undefined) return undefined;
    const kind = sliceType % 5;
    return kind === 1 ? 'B' : kind === 2 || kind === 4 ? 'I' : 'P';
  }
  return undefined;
}

/** A tiny exp-Golomb reader that answers undefined instead of throwing. */
class SliceBits {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}

  private bit(): number | undefined {
    const byte = this.data[this.pos >> 3];
    if (byte === undefined) return undefined;
    const value = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return value;
  }

  ue(): number | undefined {
    let zeros = 0;
    for (;;) {
      const b = this.bit();
      if (b === undefined || zeros > 24) return undefined;
      if (b === 1) break;
      zeros++;
    }
    let value = 0;
    for (let i = 0; i < zeros; i++) {
      const b = this.bit();
      if (b === undefined) return undefined;
      value = value * 2 + b;
    }
    return 2 ** zeros - 1 + value;
  }
}

/**
 * Whether the stream reorders frames (B-frames), as far as the feed has shown:
 * the SPS's max_num_reorder_frames when present; pic_order_cnt_type 2 rules reordering out;
 * otherwise a B slice in the pictures seen so far.
 */
export function reordersFrames(info: Pick<FeedStreamInfo, 'sps' | 'bSlicesSeen'>): boolean {
  if (info.bSlicesSeen) return true;
  const sps = info.sps;
  if (sps?.maxNumReorderFrames !== undefined) return sps.maxNumReorderFrames > 0;
  return false;
}

/** Pictures to look at for B slices when the SPS cannot tell (a B-frame GOP shows one within 4). */
export const SLICES_TO_CHECK = 8;

/**
 * Enough is known to decide copy vs transcode: the codec from the PMT and, for H.264, its SPS and
 * either an SPS that settles reordering or a few pictures' slice headers.
 */
export function streamInfoSettled(info: FeedStreamInfo | undefined): boolean {
  if (!info?.videoCodec) return false;
  if (info.videoCodec !== 'h264') return true;
  const sps = info.sps;
  if (!sps) return false;
  if (info.bSlicesSeen || sps.maxNumReorderFrames !== undefined || sps.picOrderCntType === 2) return true;
  return info.slicesChecked >= 4;
}
