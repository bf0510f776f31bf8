/**
 * One snapshot as the Home app takes it: latency of the HAP resource request, and how old the
 * picture is (arrival on the wall clock minus the stamp the camera wrote into that frame).
 */
import type { HapCameraClient } from '../test/helpers/hap-camera-client.js';
import { decodeBands } from './frame-decode.js';
import { readStamp } from './stamp.js';

export interface SnapshotSample {
  ms: number;
  /** Date.now() when the JPEG had arrived. */
  arrivedWall: number;
  jpeg: Buffer;
}

export interface SnapshotResult {
  ms: number;
  /** arrival − stamp, ms (NaN if the picture carried no readable stamp). */
  ageMs: number;
  bytes: number;
}

export async function takeSnapshot(client: HapCameraClient, width: number, height: number): Promise<SnapshotSample> {
  const { jpeg, ms } = await client.snapshot(width, height);
  return { ms, arrivedWall: Date.now(), jpeg };
}

/** Decode after the timed part, so decoding never competes with a measurement. */
export async function analyseSnapshot(sample: SnapshotSample): Promise<SnapshotResult> {
  let age = Number.NaN;
  try {
    const { bands } = await decodeBands(sample.jpeg, 'image', 15_000);
    const stamp = bands[0] ? readStamp(bands[0], sample.arrivedWall) : undefined;
    if (stamp !== undefined) age = sample.arrivedWall - stamp;
  } catch {
    // not a decodable picture: age stays NaN and the report says so
  }
  return { ms: sample.ms, ageMs: age, bytes: sample.jpeg.length };
}
