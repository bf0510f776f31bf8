/**
 * The camera fixture's wall-clock stamp (`--stamp`): 32 black/white cells across the top tenth of
 * every picture holding `Date.now() & 0xFFFFFFFF`, most significant bit on the left. Readers crop
 * that band out of a decoded picture and scale it to a fixed BAND_WIDTH x BAND_HEIGHT gray image,
 * so the same sampling works for any output size (copy, transcode, snapshot).
 */

export const STAMP_CELLS = 32;
export const BAND_WIDTH = STAMP_CELLS * 10;
export const BAND_HEIGHT = 8;
const BAND_BYTES = BAND_WIDTH * BAND_HEIGHT;

/** FFmpeg filter turning any picture into the fixed gray band image the reader samples. */
export const BAND_FILTER = `crop=iw:trunc(ih/10):0:0,scale=${BAND_WIDTH}:${BAND_HEIGHT}:flags=bilinear,format=gray`;

/** Split FFmpeg's raw gray output into one band image per decoded picture. */
export function splitBands(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + BAND_BYTES <= raw.length; at += BAND_BYTES) out.push(raw.subarray(at, at + BAND_BYTES));
  return out;
}

/**
 * The stamp in a band image as a full epoch ms value (the 32-bit value placed nearest to `nowMs`),
 * or undefined when the band holds no plausible stamp (within a minute of `nowMs`).
 */
export function readStamp(band: Buffer, nowMs: number): number | undefined {
  if (band.length < BAND_BYTES) return undefined;
  let value = 0;
  let ambiguous = 0;
  for (let cell = 0; cell < STAMP_CELLS; cell++) {
    // The middle of the cell: 3x2 pixels around its centre, away from the edges codecs smear.
    const cx = Math.round((cell + 0.5) * (BAND_WIDTH / STAMP_CELLS));
    let sum = 0;
    let n = 0;
    for (let y = BAND_HEIGHT / 2 - 1; y <= BAND_HEIGHT / 2; y++) {
      for (let x = cx - 1; x <= cx + 1; x++) {
        sum += band[y * BAND_WIDTH + x] ?? 0;
        n++;
      }
    }
    const luma = sum / n;
    if (luma > 80 && luma < 170) ambiguous++;
    value = value * 2 + (luma >= 126 ? 1 : 0);
  }
  if (ambiguous > 2) return undefined;
  const span = 2 ** 32;
  const base = nowMs - (nowMs % span);
  let best = base + value;
  for (const candidate of [best - span, best + span]) if (Math.abs(candidate - nowMs) < Math.abs(best - nowMs)) best = candidate;
  return Math.abs(best - nowMs) <= 60_000 ? best : undefined;
}
