/**
 * Finds what the shared source needs in an MPEG-TS byte stream, without demuxing it: the PAT/PMT
 * packets (to prepend for a late joiner), the video PID, where each video frame starts, and which
 * frames are keyframes (FFmpeg's muxer sets random_access_indicator on them). It also reads what
 * the feed says about its streams (PMT stream types, the SPS before each keyframe, the first slice
 * type of the pictures after the first keyframe): see feed-stream-info.ts.
 */
import {
  audioCodecOf, AUDIO_STREAM_TYPES, findSps, firstSliceType, nalUnits, pesPayload, SLICES_TO_CHECK, VIDEO_STREAM_TYPES, videoCodecOf,
  type FeedStreamInfo,
} from './feed-stream-info.js';

export const TS_PACKET = 188;
const SYNC = 0x47;

export type TsPacketKind = 'pat' | 'pmt' | 'keyframe-start' | 'frame-start' | 'other';

export interface IndexedChunk {
  /** Whole 188-byte packets only; a trailing partial packet waits for the next push. */
  data: Buffer;
  /** One entry per packet in `data`. */
  kinds: TsPacketKind[];
}

/** ES bytes gathered from a keyframe for its SPS (H.265 VPS+SPS+PPS and SEI fit easily). */
const KEYFRAME_PREFIX_BYTES = 4096;
/** ES bytes gathered from other pictures for their first slice header (after AUD/SEI). */
const PICTURE_PREFIX_BYTES = 512;

export class MpegTsIndexer {
  private remainder: Buffer = Buffer.alloc(0);
  private pmtPid: number | undefined;
  videoPid: number | undefined;
  audioPid: number | undefined;
  videoStreamType: number | undefined;
  /** What the feed has shown about its streams so far. */
  readonly info: FeedStreamInfo = { slicesChecked: 0, bSlicesSeen: false };
  private gathering: { chunks: Buffer[]; bytes: number; keyframe: boolean } | undefined;
  private seenKeyframe = false;

  push(chunk: Buffer): IndexedChunk {
    let buf = this.remainder.length ? Buffer.concat([this.remainder, chunk]) : chunk;
    // Resynchronise on the sync byte if the stream ever slips (should not happen on a pipe).
    let start = 0;
    while (start < buf.length && buf[start] !== SYNC) start++;
    if (start > 0) buf = buf.subarray(start);
    const whole = buf.length - (buf.length % TS_PACKET);
    const data = buf.subarray(0, whole);
    this.remainder = Buffer.from(buf.subarray(whole));
    const kinds: TsPacketKind[] = [];
    for (let offset = 0; offset < whole; offset += TS_PACKET) {
      kinds.push(this.classify(data.subarray(offset, offset + TS_PACKET)));
    }
    return { data, kinds };
  }

  private classify(p: Buffer): TsPacketKind {
    if (p[0] !== SYNC) return 'other';
    const b1 = p[1] ?? 0;
    const pusi = (b1 & 0x40) !== 0;
    const pid = ((b1 & 0x1f) << 8) | (p[2] ?? 0);
    const afc = ((p[3] ?? 0) >> 4) & 0x3;
    let payload = 4;
    let randomAccess = false;
    if (afc & 0x2) {
      const afLength = p[4] ?? 0;
      if (afLength > 0) randomAccess = ((p[5] ?? 0) & 0x40) !== 0;
      payload = 5 + afLength;
    }
    if (pid === 0) {
      if (pusi && afc & 0x1) this.parsePat(p, payload);
      return 'pat';
    }
    if (pid === this.pmtPid) {
      if (pusi && afc & 0x1) this.parsePmt(p, payload);
      return 'pmt';
    }
    if (pid === this.videoPid) {
      if (afc & 0x1) this.gatherVideo(p.subarray(payload), pusi, randomAccess);
      if (pusi) return randomAccess ? 'keyframe-start' : 'frame-start';
    }
    return 'other';
  }

  /** Sections start after the pointer field; we only need the first program. */
  private section(p: Buffer, payload: number): Buffer | undefined {
    const pointer = p[payload] ?? 0;
    const start = payload + 1 + pointer;
    if (start + 3 > p.length) return undefined;
    const length = (((p[start + 1] ?? 0) & 0x0f) << 8) | (p[start + 2] ?? 0);
    return p.subarray(start, Math.min(p.length, start + 3 + length));
  }

  private parsePat(p: Buffer, payload: number): void {
    const s = this.section(p, payload);
    if (!s) return;
    for (let i = 8; i + 4 <= s.length - 4; i += 4) {
      const program = ((s[i] ?? 0) << 8) | (s[i + 1] ?? 0);
      const pid = (((s[i + 2] ?? 0) & 0x1f) << 8) | (s[i + 3] ?? 0);
      if (program !== 0) {
        this.pmtPid = pid;
        return;
      }
    }
  }

  private parsePmt(p: Buffer, payload: number): void {
    const s = this.section(p, payload);
    if (!s) return;
    const infoLength = (((s[10] ?? 0) & 0x0f) << 8) | (s[11] ?? 0);
    for (let i = 12 + infoLength; i + 5 <= s.length - 4;) {
      const streamType = s[i] ?? 0;
      const pid = (((s[i + 1] ?? 0) & 0x1f) << 8) | (s[i + 2] ?? 0);
      const esInfo = (((s[i + 3] ?? 0) & 0x0f) << 8) | (s[i + 4] ?? 0);
      // 0x1b H.264, 0x24 HEVC; 0x0f AAC ADTS, 0x11 AAC LATM, 0x06 private (Opus).
      if (VIDEO_STREAM_TYPES.has(streamType) && this.videoPid === undefined) {
        this.videoPid = pid;
        this.videoStreamType = streamType;
        this.info.videoStreamType = streamType;
        this.info.videoCodec = videoCodecOf(streamType);
      } else if (AUDIO_STREAM_TYPES.has(streamType) && this.audioPid === undefined) {
        this.audioPid = pid;
        this.info.audioStreamType = streamType;
        this.info.audioCodec = audioCodecOf(streamType);
      }
      i += 5 + esInfo;
    }
  }

  /**
   * Collects the first bytes of a picture: a keyframe's for its SPS, the next few pictures' for
   * their slice type. Parsing is retried as bytes arrive, so the answer is there as soon as the
   * bytes are, usually in the same pipe chunk as the keyframe.
   */
  private gatherVideo(payload: Buffer, pusi: boolean, randomAccess: boolean): void {
    if (pusi) {
      this.gathering = undefined;
      const es = pesPayload(payload);
      if (!es) return;
      const wantSlice = !randomAccess && this.seenKeyframe && this.info.videoCodec === 'h264' && this.info.slicesChecked < SLICES_TO_CHECK;
      if (randomAccess) this.seenKeyframe = true;
      if (!randomAccess && !wantSlice) return;
      this.gathering = { chunks: [], bytes: 0, keyframe: randomAccess };
      this.append(es);
      return;
    }
    if (this.gathering) this.append(payload);
  }

  private append(bytes: Buffer): void {
    const g = this.gathering;
    if (!g) return;
    const limit = g.keyframe ? KEYFRAME_PREFIX_BYTES : PICTURE_PREFIX_BYTES;
    g.chunks.push(bytes.subarray(0, limit - g.bytes));
    g.bytes = Math.min(limit, g.bytes + bytes.length);
    const nals = nalUnits(Buffer.concat(g.chunks));
    const codec = this.info.videoCodec;
    if (g.keyframe && codec) {
      // The last NAL may still be cut off: only parse NAL units another start code has closed.
      const sps = findSps(codec, g.bytes >= limit ? nals : nals.slice(0, -1));
      if (sps) {
        this.info.sps = sps;
        this.gathering = undefined;
        return;
      }
    } else if (!g.keyframe) {
      const type = firstSliceType(nals);
      if (type) {
        this.info.slicesChecked++;
        if (type === 'B') this.info.bSlicesSeen = true;
        this.gathering = undefined;
        return;
      }
    }
    if (g.bytes >= limit) this.gathering = undefined;
  }
}
