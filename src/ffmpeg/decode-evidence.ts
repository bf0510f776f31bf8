/**
 * Which FFmpeg stderr lines are evidence of damaged video, read off real FFmpeg 5.1 output at our
 * `-loglevel warning` (samples in test/fixtures/ffmpeg-stderr/): a camera on a lossy link, over TCP
 * and UDP, H.264 and H.265, and a clean B-frame stream with AAC for what must not count. Pure.
 *
 * | kind        | line                                            | printed by                          |
 * |-------------|-------------------------------------------------|-------------------------------------|
 * | slice       | `[h264 @ …] error while decoding MB x y`        | the H.264 decoder, per damaged slice |
 * | slice       | `[hevc @ …] Could not find ref with POC n`,     | the H.265 decoder                   |
 * |             | `[hevc @ …] entry_point_offset table is corrupted` |                                  |
 * | picture     | `pipe:0: corrupt decoded frame in stream 0`     | ffmpeg, per concealed picture       |
 * | packet-loss | `[rtsp @ …] RTP: missed n packets`              | the copy feed, RTP over UDP         |
 *
 * Those are the captured ones. The same rules take FFmpeg's wording for damage the samples did not
 * hit: `non-existing PPS n referenced`, `decode_slice_header error`, `Invalid NAL unit size`, `no
 * frame!`, `missing picture in access unit` (seen once in the long-GOP test before the copy sender
 * was paced), `Error parsing NAL unit`, and a demuxer's `corrupt input packet` / `Packet corrupt`.
 *
 * Not counted: the reason lines H.264 prints just before its `error while decoding MB` (`corrupted
 * macroblock`, `negative number of zero coeffs`, `mb_type … too large`, …: one slice, said twice),
 * `max delay reached. need to consume packet` (precedes the same loss's `RTP: missed`), `co located
 * POCs unavailable` (a B-frame stream joined mid-GOP, seen on clean streams), timestamp warnings
 * (`Non-monotonous DTS`, `non monotonically increasing dts`, `Queue input is backward in time`).
 * Over RTSP/TCP a copy feed says nothing about lost data; only the decoders see it.
 */

export type DecodeEvidenceKind = 'slice' | 'picture' | 'packet' | 'packet-loss';

const DECODER_CONTEXT = /^\[(?:h264|hevc) @ 0x[0-9a-f]+\] /;

const DECODER_DAMAGE: readonly RegExp[] = [
  /^error while decoding MB \d+ \d+/,
  /^non-existing [PS]PS \d+ referenced/,
  /^decode_slice_header error/,
  /^Invalid NAL unit size/,
  /^missing picture in access unit/,
  /^no frame!/,
  /^Could not find ref with POC -?\d+/,
  /^entry_point_offset table is corrupted/,
  /^Error parsing NAL unit/,
];

/** What the line says about the video, or null when it is not damage evidence. */
export function classifyFfmpegLine(line: string): DecodeEvidenceKind | null {
  const context = DECODER_CONTEXT.exec(line);
  if (context) {
    const message = line.slice(context[0].length);
    return DECODER_DAMAGE.some((pattern) => pattern.test(message)) ? 'slice' : null;
  }
  if (/: corrupt decoded frame in stream \d+\s*$/.test(line)) return 'picture';
  if (/corrupt input packet in stream \d+|\] Packet corrupt\b/.test(line)) return 'packet';
  if (/^\[(?:rtsp|rtp) @ 0x[0-9a-f]+\] RTP: missed \d+ packets/.test(line)) return 'packet-loss';
  return null;
}

/** FFmpeg folds identical lines into `Last message repeated n times`; n, or undefined for other lines. */
export function repeatCount(line: string): number | undefined {
  const match = /^\s*Last message repeated (\d+) times?\s*$/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * Counts damage evidence in one FFmpeg's stderr, line by line (a repeat line counts again what the
 * line before it counted). One per process: the repeat refers to that process's previous line.
 */
export class DecodeEvidenceCounter {
  private lastCounted = false;

  /** How many damage messages this line stands for (0 for anything else). */
  push(line: string): number {
    const repeated = repeatCount(line);
    if (repeated !== undefined) return this.lastCounted ? repeated : 0;
    this.lastCounted = classifyFfmpegLine(line) !== null;
    return this.lastCounted ? 1 : 0;
  }
}

/** Damage messages in a whole stderr text (tests and benchmarks read captured output with it). */
export function countDecodeEvidence(stderr: string): number {
  const counter = new DecodeEvidenceCounter();
  return stderr.split(/\r?\n|\r/).reduce((sum, line) => sum + counter.push(line.trimEnd()), 0);
}

/**
 * An `onStderrLine` for one FFmpeg that reports its damage messages as they come (a counter per
 * process, so repeat lines refer to that process's own previous line).
 */
export function decodeEvidenceTap(report: (count: number) => void): (line: string) => void {
  const counter = new DecodeEvidenceCounter();
  return (line) => {
    const count = counter.push(line);
    if (count > 0) report(count);
  };
}
