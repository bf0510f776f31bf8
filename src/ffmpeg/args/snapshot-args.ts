/**
 * One JPEG from a source.
 *
 * | flag                                        | why                                             |
 * |---------------------------------------------|-------------------------------------------------|
 * | scale=…:force_original_aspect_ratio=increase,crop | exactly the size HomeKit asked for, no bars  |
 * | select=gte(n\,K)                            | from a cached GOP, the newest frame, not the oldest |
 * | -frames:v 1                                 | one picture, then exit                          |
 * | -q:v 5                                      | ~4x smaller than q 2 at no visible loss on a tile |
 * | -f mjpeg pipe:1                             | bytes straight back to us, no temp files        |
 */
import { LOG_ARGS } from './input-args.js';

export interface SnapshotArgsOptions {
  input: string[];
  width: number;
  height: number;
  quality?: number;
  /** Frames to decode and drop first: a cached GOP's newest picture is the freshest one. */
  skipFrames?: number;
}

export function snapshotArgs(options: SnapshotArgsOptions): string[] {
  const w = Math.max(2, Math.round(options.width));
  const h = Math.max(2, Math.round(options.height));
  return [
    ...LOG_ARGS, ...options.input,
    '-frames:v', '1', '-an', '-sn', '-dn',
    '-vf', `${options.skipFrames && options.skipFrames > 0 ? `select=gte(n\\,${Math.floor(options.skipFrames)}),` : ''}scale=${w}:${h}:force_original_aspect_ratio=increase,crop=${w}:${h},format=yuvj420p`,
    '-c:v', 'mjpeg', '-q:v', String(options.quality ?? 5),
    '-f', 'mjpeg', 'pipe:1',
  ];
}
