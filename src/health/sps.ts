/**
 * H.264 / H.265 sequence parameter set parsing, just far enough to learn the picture size (after
 * cropping), chroma format, bit depth and - for H.264 - the VUI frame rate and whether frames are
 * reordered (B-frames: HomeKit's copy path cannot carry them). Cameras often leave
 * the size out of the SDP, but nearly all send their SPS in `sprop-parameter-sets`.
 * Pure; returns undefined for anything malformed instead of throwing.
 */

export interface SpsInfo {
  codec: 'h264' | 'h265';
  profileIdc: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  /** Displayed size: coded size minus the cropping / conformance window. */
  width: number;
  height: number;
  /** From the H.264 VUI timing info, when present and plausible. */
  fps?: number;
  /** H.264 pic_order_cnt_type: 2 means output order is decode order (no B-frames possible). */
  picOrderCntType?: number;
  /** H.264 VUI bitstream_restriction max_num_reorder_frames, when the SPS has it (0: no reordering). */
  maxNumReorderFrames?: number;
}

/** Drop emulation-prevention bytes (00 00 03 → 00 00) to get the raw RBSP. */
export function nalToRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[n++] = byte;
  }
  return out.subarray(0, n);
}

/** MSB-first bit reader with exp-Golomb codes; throws RangeError past the end (caught below). */
export class BitReader {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}

  u(bits: number): number {
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.data[this.pos >> 3];
      if (byte === undefined) throw new RangeError('SPS truncated');
      value = value * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return value;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(bits: number): void {
    if (this.pos + bits > this.data.length * 8) throw new RangeError('SPS truncated');
    this.pos += bits;
  }

  /** Unsigned exp-Golomb. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new RangeError('exp-Golomb code too long');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  /** Signed exp-Golomb. */
  se(): number {
    const k = this.ue();
    if (k === 0) return 0;
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** H.264 profiles whose SPS carries chroma_format_idc, bit depths and scaling lists. */
const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
/** Every profile_idc the spec defines; anything else is not an SPS we can trust. */
const H264_PROFILES = new Set([66, 77, 88, ...H264_HIGH_PROFILES]);
const MAX_DIMENSION = 16_384;

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

function plausible(width: number, height: number): boolean {
  return Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width <= MAX_DIMENSION && height <= MAX_DIMENSION;
}

/** Parse an H.264 SPS NAL unit (with its one-byte header, type 7). */
export function parseH264Sps(nal: Uint8Array): SpsInfo | undefined {
  if (nal.length < 4 || ((nal[0] ?? 0) & 0x1f) !== 7) return undefined;
  try {
    const r = new BitReader(nalToRbsp(nal.subarray(1)));
    const profileIdc = r.u(8);
    if (!H264_PROFILES.has(profileIdc)) return undefined;
    r.skip(8); // constraint_set flags + reserved
    const levelIdc = r.u(8);
    r.ue(); // seq_parameter_set_id
    let chromaFormatIdc = 1;
    let separateColourPlane = false;
    let bitDepthLuma = 8;
    if (H264_HIGH_PROFILES.has(profileIdc)) {
      chromaFormatIdc = r.ue();
      if (chromaFormatIdc > 3) return undefined;
      if (chromaFormatIdc === 3) separateColourPlane = r.flag();
      bitDepthLuma = r.ue() + 8;
      r.ue(); // bit_depth_chroma_minus8
      r.skip(1); // qpprime_y_zero_transform_bypass_flag
      if (r.flag()) {
        // seq_scaling_matrix_present_flag: 6 4x4 lists, then 2 (or 6 for 4:4:4) 8x8 lists.
        const lists = chromaFormatIdc === 3 ? 12 : 8;
        for (let i = 0; i < lists; i++) {
          if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) {
      r.ue(); // log2_max_pic_order_cnt_lsb_minus4
    } else if (pocType === 1) {
      r.skip(1); // delta_pic_order_always_zero_flag
      r.se(); // offset_for_non_ref_pic
      r.se(); // offset_for_top_to_bottom_field
      const cycle = r.ue();
      if (cycle > 255) return undefined;
      for (let i = 0; i < cycle; i++) r.se();
    } else if (pocType !== 2) {
      return undefined;
    }
    r.ue(); // max_num_ref_frames
    r.skip(1); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.flag();
    if (!frameMbsOnly) r.skip(1); // mb_adaptive_frame_field_flag
    r.skip(1); // direct_8x8_inference_flag
    let crop = { left: 0, right: 0, top: 0, bottom: 0 };
    if (r.flag()) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };

    // Crop units per spec 7.4.2.1.1: in chroma samples unless there is no chroma array.
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 3 ? 1 : 2;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const fieldFactor = frameMbsOnly ? 1 : 2;
    const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
    const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * fieldFactor;
    const width = widthMbs * 16 - cropUnitX * (crop.left + crop.right);
    const height = fieldFactor * heightMapUnits * 16 - cropUnitY * (crop.top + crop.bottom);
    if (!plausible(width, height)) return undefined;

    const info: SpsInfo = { codec: 'h264', profileIdc, levelIdc, chromaFormatIdc, bitDepthLuma, width, height, picOrderCntType: pocType };
    const vui = readVui(r);
    if (vui.fps !== undefined) info.fps = vui.fps;
    if (vui.maxNumReorderFrames !== undefined) info.maxNumReorderFrames = vui.maxNumReorderFrames;
    return info;
  } catch {
    return undefined;
  }
}

/** HRD parameters (E.1.2): only skipped, to reach bitstream_restriction behind them. */
function skipHrd(r: BitReader): void {
  const cpbCount = r.ue() + 1;
  if (cpbCount > 32) throw new RangeError('cpb_cnt out of range');
  r.skip(8); // bit_rate_scale + cpb_size_scale
  for (let i = 0; i < cpbCount; i++) {
    r.ue(); // bit_rate_value_minus1
    r.ue(); // cpb_size_value_minus1
    r.skip(1); // cbr_flag
  }
  r.skip(20); // four delay/offset lengths, 5 bits each
}

/** VUI: timing info (fps) and bitstream_restriction (reordering); whatever is truncated stays unknown. */
function readVui(r: BitReader): { fps?: number; maxNumReorderFrames?: number } {
  const out: { fps?: number; maxNumReorderFrames?: number } = {};
  try {
    if (!r.flag()) return out; // vui_parameters_present_flag
    if (r.flag() && r.u(8) === 255) r.skip(32); // aspect_ratio_info: Extended_SAR w/h
    if (r.flag()) r.skip(1); // overscan_info
    if (r.flag()) {
      r.skip(4); // video_format + video_full_range_flag
      if (r.flag()) r.skip(24); // colour description
    }
    if (r.flag()) {
      r.ue(); // chroma_sample_loc_type_top_field
      r.ue(); // chroma_sample_loc_type_bottom_field
    }
    if (r.flag()) { // timing_info_present_flag
      const unitsInTick = r.u(32);
      const timeScale = r.u(32);
      r.skip(1); // fixed_frame_rate_flag
      // One frame is two ticks (field-based clock) in H.264's timing model.
      const fps = unitsInTick === 0 ? 0 : Math.round((timeScale / (2 * unitsInTick)) * 1000) / 1000;
      // Cameras sometimes put nonsense here; only believe the usual range.
      if (fps >= 1 && fps <= 120) out.fps = fps;
    }
    const nalHrd = r.flag();
    if (nalHrd) skipHrd(r);
    const vclHrd = r.flag();
    if (vclHrd) skipHrd(r);
    if (nalHrd || vclHrd) r.skip(1); // low_delay_hrd_flag
    r.skip(1); // pic_struct_present_flag
    if (r.flag()) { // bitstream_restriction_flag
      r.skip(1); // motion_vectors_over_pic_boundaries_flag
      for (let i = 0; i < 4; i++) r.ue(); // max_bytes_per_pic_denom … log2_max_mv_length_vertical
      const reorder = r.ue();
      if (reorder <= 16) out.maxNumReorderFrames = reorder;
    }
  } catch {
    // truncated VUI: what was read so far stands
  }
  return out;
}

/** Parse an H.265 SPS NAL unit (with its two-byte header, type 33). */
export function parseH265Sps(nal: Uint8Array): SpsInfo | undefined {
  if (nal.length < 4 || (((nal[0] ?? 0) >> 1) & 0x3f) !== 33) return undefined;
  try {
    const r = new BitReader(nalToRbsp(nal.subarray(2)));
    r.skip(4); // sps_video_parameter_set_id
    const maxSubLayersMinus1 = r.u(3);
    r.skip(1); // sps_temporal_id_nesting_flag
    // profile_tier_level(1, maxSubLayersMinus1)
    r.skip(3); // general_profile_space + general_tier_flag
    const profileIdc = r.u(5);
    r.skip(32 + 48); // compatibility flags, then progressive/interlaced/… and reserved bits
    const levelIdc = r.u(8);
    const subLayers: { profile: boolean; level: boolean }[] = [];
    for (let i = 0; i < maxSubLayersMinus1; i++) subLayers.push({ profile: r.flag(), level: r.flag() });
    if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1));
    for (const layer of subLayers) {
      if (layer.profile) r.skip(88);
      if (layer.level) r.skip(8);
    }
    r.ue(); // sps_seq_parameter_set_id
    const chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) return undefined;
    const separateColourPlane = chromaFormatIdc === 3 ? r.flag() : false;
    const codedWidth = r.ue();
    const codedHeight = r.ue();
    let crop = { left: 0, right: 0, top: 0, bottom: 0 };
    if (r.flag()) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };
    const bitDepthLuma = r.ue() + 8;
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const width = codedWidth - subWidthC * (crop.left + crop.right);
    const height = codedHeight - subHeightC * (crop.top + crop.bottom);
    if (!plausible(width, height)) return undefined;
    return { codec: 'h265', profileIdc, levelIdc, chromaFormatIdc, bitDepthLuma, width, height };
  } catch {
    return undefined;
  }
}
