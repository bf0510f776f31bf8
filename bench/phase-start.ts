/**
 * START → first decoded frame and lag behind live, cold and warm, copy and transcode, both rigs.
 * Cold: the rig runs no FFmpeg (our camera feed lingered out). Warm: a second viewer STARTs while
 * the first (the cold one) is still watching, so our feed is live with a cached GOP; camera-ffmpeg
 * has no shared feed, so its warm start is the same mechanism as its cold one, measured the same way.
 */
import type { Rig, Side, VideoMode } from './rigs.js';
import { waitCold } from './rigs.js';
import type { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { analyseStream, cameraTimes, endStream, startStream, type StreamSample } from './stream-probe.js';
import { randomBetween, sleep } from './stats.js';

export type StartResults = Record<Side, Record<VideoMode, { cold: StreamSample[]; warm: StreamSample[] }>>;

export async function measureStarts(camera: RtspCamera, rigs: readonly Rig[], runs: number, progress: (line: string) => void): Promise<StartResults> {
  const empty = (): Record<VideoMode, { cold: StreamSample[]; warm: StreamSample[] }> => ({ copy: { cold: [], warm: [] }, transcode: { cold: [], warm: [] } });
  const results: StartResults = { ours: empty(), theirs: empty() };
  for (let run = 0; run < runs; run++) {
    for (const mode of ['copy', 'transcode'] as const) {
      // Alternate who goes first, so neither side always follows the other's teardown.
      const order = run % 2 === 0 ? rigs : [...rigs].reverse();
      for (const rig of order) {
        await waitCold(rig);
        // A random point in the camera's 2 s GOP: how long a joiner waits for a keyframe varies.
        await sleep(randomBetween(0, 2000));
        const coldMark = camera.mark();
        const cold = await startStream(rig.clients[mode]);
        await sleep(randomBetween(0, 2000));
        const warmMark = camera.mark();
        const warm = await startStream(rig.clients[mode], { streamIndex: 1 }).catch(async (error: unknown) => {
          await endStream(cold);
          throw error;
        });
        await Promise.all([endStream(cold), endStream(warm)]);
        const [ca, wa] = [await analyseStream(cold), await analyseStream(warm)];
        const c = { ...ca, ...cameraTimes(camera, coldMark, ca, cold.startedAt) };
        const w = { ...wa, ...cameraTimes(camera, warmMark, wa, warm.startedAt) };
        results[rig.side][mode].cold.push(c);
        results[rig.side][mode].warm.push(w);
        progress(`start ${mode} run ${run + 1}/${runs} ${rig.label}: cold ${c.firstFrameMs.toFixed(0)} ms (camera keyframe wait ${c.keyframeWaitMs.toFixed(0)}, lag ${c.lagSteadyMs.toFixed(0)}/${c.lagMaxMs.toFixed(0)}), warm ${w.firstFrameMs.toFixed(0)} ms (lag ${w.lagSteadyMs.toFixed(0)}/${w.lagMaxMs.toFixed(0)})`);
      }
    }
  }
  return results;
}
