/** A dark frame with a diagonal cross: clearly "no picture", needs no fonts (FFmpeg builds vary). */
import { LOG_ARGS } from '../ffmpeg/args/input-args.js';

export function placeholderArgs(width: number, height: number): string[] {
  const w = Math.max(16, Math.round(width));
  const h = Math.max(16, Math.round(height));
  return [
    ...LOG_ARGS,
    '-f', 'lavfi', '-i', `color=c=0x1e1e1e:s=${w}x${h}:d=1`,
    '-vf', `drawbox=x=${Math.round(w * 0.45)}:y=${Math.round(h * 0.4)}:w=${Math.round(w * 0.1)}:h=${Math.round(h * 0.2)}:color=0x7a1f1f:t=fill`,
    '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '8', '-f', 'mjpeg', 'pipe:1',
  ];
}
