/**
 * One live stream as the Home app runs it, measured: START → first complete IDR picture (and that it
 * decodes), START → first SRTP packet, and how far behind the camera's wall clock each picture
 * arrives during the first seconds (from the stamp the camera writes into every frame).
 */
import { performance } from 'node:perf_hooks';
import type { HapCameraClient, StreamHandle } from '../test/helpers/hap-camera-client.js';
import type { RtspCamera } from '../test/helpers/rtsp-camera.js';
import { decodeBands } from './frame-decode.js';
import { REQUEST } from './rigs.js';
import { accessUnits } from './rtp-recorder.js';
import { readStamp } from './stamp.js';
import { median, sleep } from './stats.js';

/**
 * Lag is reported for pictures arriving in the first LAG_WINDOW_MS of video (from the first picture:
 * a plugin slower than that to start would otherwise have no picture in a window counted from START)…
 */
export const LAG_WINDOW_MS = 3000;
/** …and "steady" lag is the median over those arriving from STEADY_FROM_MS on (~3 s into the stream). */
export const STEADY_FROM_MS = 2000;

export interface StreamSample {
  /** START write → the first IDR picture complete (all its packets in), ms. */
  firstFrameMs: number;
  /** START write → first authenticated video packet, ms. */
  firstPacketMs: number;
  /** The first IDR picture decoded, and carried a readable stamp. */
  decodes: boolean;
  /** Pictures decoded from the first IDR on / complete pictures received from it. */
  decodedFrames: number;
  receivedFrames: number;
  /** Median (arrival − stamp) of pictures arriving STEADY_FROM_MS…LAG_WINDOW_MS after the first, ms. */
  lagSteadyMs: number;
  /** Largest (arrival − stamp) in the first LAG_WINDOW_MS of video, ms. */
  lagMaxMs: number;
  /** Pictures whose stamp could be read. */
  stamped: number;
  /** Date.now() the camera stamped into the first IDR picture: when that keyframe was captured. */
  firstStampWall: number;
  /** START → the camera answering this stream's PLAY, ms (NaN: no PLAY, the feed was live). */
  playMs: number;
  /** That PLAY → capture of the keyframe the stream's video began with (from its stamp), ms. */
  keyframeWaitMs: number;
}

/**
 * START a stream and keep it running until `holdMs` after START and, with `lagWindow` (default), until
 * LAG_WINDOW_MS of video have arrived after the first IDR (waiting for that up to 15 s).
 * Simultaneous viewers need different `streamIndex`es: each RTP stream management service carries
 * one session at a time (the Home app picks a free one), and a busy one answers SetupEndpoints BUSY.
 */
export async function startStream(client: HapCameraClient, o: { holdMs?: number; lagWindow?: boolean; streamIndex?: number } = {}): Promise<StreamHandle> {
  const handle = await client.startStream({ ...REQUEST, streamIndex: o.streamIndex ?? 0 });
  const deadline = handle.startedAt + 15_000;
  while (handle.firstIdrMs === undefined && performance.now() < deadline) await sleep(50);
  const firstPicture = handle.startedAt + (handle.firstIdrMs ?? 0);
  // Multi-slice pictures complete a little after their first IDR slice: a margin past the window.
  await sleep(Math.max(handle.startedAt + (o.holdMs ?? 0), (o.lagWindow ?? true) ? firstPicture + LAG_WINDOW_MS + 300 : 0) - performance.now());
  return handle;
}

/** END the stream and close its connection and sockets. */
export async function endStream(handle: StreamHandle): Promise<void> {
  try {
    await handle.stop();
  } catch {
    // the accessory may already have ended it; dispose regardless
  }
  await handle.dispose();
}

/** Analyse what a finished stream received. */
export async function analyseStream(handle: StreamHandle): Promise<StreamSample> {
  const units = accessUnits(handle.depacketizer);
  const first = units.findIndex((u) => u.hasIdr);
  const empty: StreamSample = {
    firstFrameMs: Number.NaN, firstPacketMs: handle.firstPacketMs ?? Number.NaN, decodes: false,
    decodedFrames: 0, receivedFrames: 0, lagSteadyMs: Number.NaN, lagMaxMs: Number.NaN, stamped: 0,
    firstStampWall: Number.NaN, playMs: Number.NaN, keyframeWaitMs: Number.NaN,
  };
  if (first < 0) return empty;
  const fromIdr = units.slice(first);
  const decoded = await decodeBands(Buffer.concat(fromIdr.map((u) => u.annexB)), 'h264');
  // Decoding from an IDR gives one picture per access unit; if FFmpeg dropped any, only the
  // pictures up to the first mismatch can be matched to their arrival times safely.
  const matched = Math.min(decoded.bands.length, fromIdr.length);
  const lags: Array<{ at: number; lag: number }> = [];
  let firstStamp = Number.NaN;
  for (let i = 0; i < matched; i++) {
    const unit = fromIdr[i];
    const band = decoded.bands[i];
    if (!unit || !band) continue;
    const stamp = readStamp(band, unit.completeWall);
    if (stamp === undefined) continue;
    if (i === 0) firstStamp = stamp;
    lags.push({ at: unit.completeAt - (fromIdr[0]?.completeAt ?? 0), lag: unit.completeWall - stamp });
  }
  const inWindow = lags.filter((l) => l.at <= LAG_WINDOW_MS);
  const steady = inWindow.filter((l) => l.at >= STEADY_FROM_MS).map((l) => l.lag);
  return {
    firstFrameMs: (fromIdr[0]?.completeAt ?? Number.NaN) - handle.startedAt,
    firstPacketMs: handle.firstPacketMs ?? Number.NaN,
    decodes: decoded.bands.length > 0 && Number.isFinite(firstStamp),
    decodedFrames: decoded.bands.length,
    receivedFrames: fromIdr.length,
    lagSteadyMs: median(steady),
    lagMaxMs: inWindow.length ? Math.max(...inWindow.map((l) => l.lag)) : Number.NaN,
    stamped: lags.length,
    firstStampWall: firstStamp,
    playMs: Number.NaN,
    keyframeWaitMs: Number.NaN,
  };
}

/**
 * When the camera answered the first PLAY after START (its events since `mark`, performance clock),
 * and how long after that PLAY it captured the keyframe the stream began with (that picture's stamp,
 * moved from the wall clock to the performance clock). A camera sends P-frames from PLAY on, so a
 * client's video can only begin at the next keyframe: that wait is the camera's, not the plugin's.
 */
export function cameraTimes(camera: RtspCamera, mark: number, sample: StreamSample, startedAt: number): Pick<StreamSample, 'playMs' | 'keyframeWaitMs'> {
  const play = camera.eventsSince(mark, 'request').find((e) => e['method'] === 'PLAY' && e.receivedAt >= startedAt);
  if (!play) return { playMs: Number.NaN, keyframeWaitMs: Number.NaN };
  const wallMinusPerf = Date.now() - performance.now();
  const keyframeAt = sample.firstStampWall - wallMinusPerf;
  // A keyframe captured while the PLAY answer was on its way counts as no wait.
  return { playMs: play.receivedAt - startedAt, keyframeWaitMs: Math.max(0, keyframeAt - play.receivedAt) };
}
