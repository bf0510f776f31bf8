/**
 * What the camera sees: RTSP sessions (SETUP) and PLAY requests for one viewer, and for three
 * simultaneous viewers plus three snapshots, each starting from a cold rig.
 */
import type { RtspCamera } from '../test/helpers/rtsp-camera.js';
import type { StreamHandle } from '../test/helpers/hap-camera-client.js';
import type { Rig, Side } from './rigs.js';
import { REQUEST, waitCold } from './rigs.js';
import { endStream } from './stream-probe.js';

export interface SessionCount {
  sessions: number;
  plays: number;
}

export type SessionResults = Record<Side, { one: SessionCount; many: SessionCount }>;

const SNAPSHOT_SIZES: ReadonlyArray<[number, number]> = [[640, 360], [1280, 720], [320, 180]];

async function watch(rig: Rig, streamIndex: number): Promise<StreamHandle> {
  const handle = await rig.clients.copy.startStream({ ...REQUEST, streamIndex });
  try {
    await handle.waitForFrames(5, 20_000);
  } catch (error) {
    await endStream(handle);
    throw error;
  }
  return handle;
}

async function counted(camera: RtspCamera, rig: Rig, viewers: number, snapshots: number): Promise<SessionCount> {
  await waitCold(rig);
  const mark = camera.mark();
  // All at once, as when several people open the Home app while it refreshes its tiles.
  const pendingStreams = Promise.allSettled(Array.from({ length: viewers }, (_, i) => watch(rig, i)));
  const pendingShots = Promise.allSettled(SNAPSHOT_SIZES.slice(0, snapshots).map(([w, h]) => rig.clients.copy.snapshot(w, h)));
  const [streams, shots] = [await pendingStreams, await pendingShots];
  rig.lastSnapshotAt = performance.now();
  const count = { sessions: camera.sessionsOpened(mark), plays: camera.requests('PLAY', mark) };
  await Promise.all(streams.map((s) => (s.status === 'fulfilled' ? endStream(s.value) : Promise.resolve())));
  const failed = [...streams, ...shots].find((s) => s.status === 'rejected');
  if (failed && failed.status === 'rejected') throw failed.reason;
  return count;
}

export async function measureSessions(camera: RtspCamera, rigs: readonly Rig[], progress: (line: string) => void): Promise<SessionResults> {
  const results = {} as SessionResults;
  for (const rig of rigs) {
    const one = await counted(camera, rig, 1, 0);
    const many = await counted(camera, rig, 3, 3);
    results[rig.side] = { one, many };
    progress(`rtsp sessions ${rig.label}: 1 viewer ${one.sessions} (PLAY ${one.plays}); 3 viewers + 3 snapshots ${many.sessions} (PLAY ${many.plays})`);
  }
  return results;
}
