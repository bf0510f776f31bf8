/**
 * The two contestants, each a real Homebridge on 127.0.0.1 with two unbridged cameras on the same
 * RTSP camera: one forwarding the camera's H.264 (copy) and one re-encoding it with libx264.
 * Both use the same FFmpeg binary and the same limits.
 */
import { join } from 'node:path';
import { HapCameraClient, type StartStreamOptions } from '../test/helpers/hap-camera-client.js';
import { Homebridge, REPO_ROOT, TEST_PIN } from '../test/helpers/homebridge.js';
import { descendants } from '../test/helpers/processes.js';
import { waitFor } from '../test/helpers/wait.js';

export const FFMPEG_PATH = '/usr/bin/ffmpeg';

/** The camera: like a typical CCTV main stream, small enough for two cores. */
export const CAMERA = { width: 1280, height: 720, fps: 15, gopSeconds: 2, bitrate: 1000 } as const;

/** What the "phone" asks for: the camera's own size and rate, 1 Mbit/s. */
export const REQUEST: StartStreamOptions = { width: 1280, height: 720, fps: 15, bitrateKbps: 1000 };

export const LIMITS = { maxStreams: 4, maxWidth: 1280, maxHeight: 720, maxFps: 15, maxBitrate: 1000 } as const;

/** How long our camera feed stays up after its last viewer (the bench config's sourceLingerSeconds). */
export const LINGER_SECONDS = 2;

export type Side = 'ours' | 'theirs';
export type VideoMode = 'copy' | 'transcode';

export interface Rig {
  side: Side;
  label: string;
  hb: Homebridge;
  clients: Record<VideoMode, HapCameraClient>;
  /** performance.now() when the last snapshot of this rig finished (their snapshot cache lasts 3 s). */
  lastSnapshotAt: number;
}

const NAMES: Record<Side, Record<VideoMode, string>> = {
  ours: { copy: 'CCTV Copy', transcode: 'CCTV Transcode' },
  theirs: { copy: 'FFmpeg Copy', transcode: 'FFmpeg x264' },
};

function oursPlatform(url: string): Record<string, unknown> {
  const camera = (id: string, mode: VideoMode): Record<string, unknown> => ({
    id, name: NAMES.ours[mode], source: url, rtspTransport: 'tcp', unbridge: true, maxStreams: LIMITS.maxStreams, prebuffer: false,
    video: { mode, maxWidth: LIMITS.maxWidth, maxHeight: LIMITS.maxHeight, maxFps: LIMITS.maxFps, maxBitrate: LIMITS.maxBitrate, encoder: 'libx264' },
    audio: { enabled: false },
  });
  return {
    platform: 'CCTV', name: 'CCTV', ffmpegPath: FFMPEG_PATH, sourceLingerSeconds: LINGER_SECONDS,
    cameras: [camera('bench-copy', 'copy'), camera('bench-transcode', 'transcode')],
  };
}

function theirsPlatform(url: string): Record<string, unknown> {
  const source = `-rtsp_transport tcp -i ${url}`;
  const camera = (mode: VideoMode): Record<string, unknown> => ({
    name: NAMES.theirs[mode], unbridge: true,
    videoConfig: {
      source, stillImageSource: source, maxStreams: LIMITS.maxStreams, maxWidth: LIMITS.maxWidth, maxHeight: LIMITS.maxHeight,
      maxFPS: LIMITS.maxFps, maxBitrate: LIMITS.maxBitrate, vcodec: mode === 'copy' ? 'copy' : 'libx264', audio: false,
    },
  });
  return { platform: 'Camera-ffmpeg', name: 'Camera FFmpeg', videoProcessor: FFMPEG_PATH, cameras: [camera('copy'), camera('transcode')] };
}

export async function startRig(side: Side, cameraUrl: string): Promise<Rig> {
  const hb = await Homebridge.start({
    bridgeName: side === 'ours' ? 'Bench CCTV' : 'Bench Camera FFmpeg',
    ...(side === 'ours'
      ? { platforms: [oursPlatform(cameraUrl)] }
      : { pluginPath: join(REPO_ROOT, 'node_modules', 'homebridge-camera-ffmpeg'), platforms: [theirsPlatform(cameraUrl)] }),
    startTimeoutMs: 60_000,
  });
  try {
    const pair = async (mode: VideoMode): Promise<HapCameraClient> =>
      HapCameraClient.pair({ port: await hb.accessoryPort(NAMES[side][mode], 60_000), pin: TEST_PIN, timeoutMs: 20_000 });
    const copy = await pair('copy');
    const transcode = await pair('transcode').catch(async (error: unknown) => {
      await copy.close();
      throw error;
    });
    return { side, label: side === 'ours' ? 'homebridge-cctv' : 'camera-ffmpeg', hb, clients: { copy, transcode }, lastSnapshotAt: 0 };
  } catch (error) {
    await hb.dispose();
    throw error;
  }
}

export async function disposeRig(rig: Rig | undefined): Promise<void> {
  if (!rig) return;
  await Promise.allSettled([rig.clients.copy.close(), rig.clients.transcode.close()]);
  await rig.hb.dispose();
}

/** FFmpeg children of the rig's Homebridge (viewers, camera feeds, snapshots). */
export function ffmpegCount(rig: Rig): number {
  const pid = rig.hb.pid;
  return pid === undefined ? 0 : descendants(pid).filter((p) => p.comm === 'ffmpeg').length;
}

/** Wait until the rig runs no FFmpeg at all: for us, the camera feed has lingered out. */
export async function waitCold(rig: Rig, timeoutMs = 20_000): Promise<void> {
  await waitFor(() => ffmpegCount(rig) === 0, { timeoutMs, intervalMs: 100, what: `${rig.label} to stop every FFmpeg` });
}
