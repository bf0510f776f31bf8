/**
 * Live view as an iPhone would see it: a HomeKit controller sets up streams over HAP, receives SRTP,
 * authenticates and decrypts every packet and decodes the H.264 into frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeH264 } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

/** The per-viewer FFmpegs: SRTP out, or plain RTP to the plugin's SRTP relay (the feed FFmpeg has neither). */
function viewerFfmpegs(hb: Homebridge): number {
  return hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args)).length : 0;
}

async function waitForNoViewers(hb: Homebridge, timeoutMs = 5000): Promise<void> {
  await waitFor(() => viewerFfmpegs(hb) === 0, { timeoutMs, what: 'every viewer FFmpeg to exit' });
}

describe('live view over SRTP', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2, audio: true, user: 'viewer', password: 'v!ew er' });
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 2,
        cameras: [
          { id: 'copy-cam', name: 'Copy Cam', source: camera.url, video: { mode: 'copy', copySender: 'ffmpeg' }, audio: { enabled: true } },
          { id: 'tx-cam', name: 'Transcode Cam', source: camera.url, video: { mode: 'transcode', maxBitrate: 1000 } },
          { id: 'tx-cold', name: 'Transcode Cold', source: camera.url, video: { mode: 'transcode', maxBitrate: 1000 } },
        ],
      },
    });
    client = await pairWith('Copy Cam');
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  async function pairWith(name: string): Promise<HapCameraClient> {
    const port = await hb.accessoryPort(name);
    return HapCameraClient.pair({ port, pin: TEST_PIN });
  }

  it('copy mode: frames decode at the camera resolution, every packet authenticates, STOP ends FFmpeg', async () => {
    const stream = await client.startStream({ width: 1280, height: 720, fps: 30, bitrateKbps: 1500 });
    streams.push(stream);
    const decoded = await stream.waitForFrames(30, 20_000);
    assert.deepEqual([decoded.width, decoded.height], [640, 360], 'copy forwards the camera picture');
    assert.equal(stream.authFailures, 0);
    assert.ok(stream.packets.video > 20);
    console.log(`copy (cold feed): START → first packet ${stream.firstPacketMs?.toFixed(0)} ms, first IDR ${stream.firstIdrMs?.toFixed(0)} ms`);
    assert.equal(viewerFfmpegs(hb), 1);
    await stream.stop();
    await waitForNoViewers(hb);
    await hb.waitForLog(/Copy Cam: \[[0-9a-f]{8}\]: stream stopped after [\d.]+ s \(stopped by HomeKit\)/);
  });

  it('audio: Opus packets arrive and decode alongside the video', async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, audio: { codec: 'opus', sampleRate: 16 } });
    streams.push(stream);
    await stream.waitForFrames(15, 20_000);
    await stream.waitForPackets(25, 10_000, 'audio');
    const audio = await stream.decodeAudio();
    assert.ok(audio.frames > 20, `decoded audio frames: ${JSON.stringify(audio)}`);
    assert.equal(stream.authFailures, 0);
    await stream.stop();
    await waitForNoViewers(hb);
  });

  it('two viewers of one camera at once both decode, from one camera session', async () => {
    const sessionsBefore = camera.sessionsOpened();
    // A second controller connection (HAP allows one pair-setup; a paired identity may connect twice).
    const second = HapCameraClient.connect({ port: client.port, pairing: client.pairing });
    try {
      const a = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 0 });
      const b = await second.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 1 });
      streams.push(a, b);
      const [da, db] = await Promise.all([a.waitForFrames(30, 20_000), b.waitForFrames(30, 20_000)]);
      assert.deepEqual([da.width, da.height, db.width, db.height], [640, 360, 640, 360]);
      assert.equal(a.authFailures + b.authFailures, 0);
      assert.equal(viewerFfmpegs(hb), 2);
      assert.ok(camera.sessionsOpened() - sessionsBefore <= 1, `camera sessions opened: ${camera.sessionsOpened() - sessionsBefore}`);
      await Promise.all([a.stop(), b.stop()]);
      await waitForNoViewers(hb);
    } finally {
      await second.close();
    }
  });

  it('a viewer that goes silent (no RTCP) is ended and HomeKit is told', async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    const silentAt = performance.now();
    stream.goSilent();
    const from = hb.logs.length;
    await hb.waitForLog(/Copy Cam: \[[0-9a-f]{8}\]: viewer sent no RTCP/, 20_000, from);
    const endedAfter = performance.now() - silentAt;
    await waitForNoViewers(hb);
    console.log(`silent viewer ended ${(endedAfter / 1000).toFixed(1)} s after its last RTCP`);
    assert.ok(await stream.waitForSilence(1000, 5000), 'no more packets after the session ended');
    assert.equal(await client.streamingStatus(0), 0, 'stream service available again');
  });

  it('a controller that drops its HAP connection without STOP ends its session', async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    await stream.dropConnection('rst');
    await waitForNoViewers(hb, 8000);
  });

  it('transcode mode: requested resolution, RECONFIGURE changes it in the same session', async () => {
    const tx = await pairWith('Transcode Cam');
    try {
      const stream = await tx.startStream({ width: 480, height: 270, fps: 15, bitrateKbps: 600 });
      streams.push(stream);
      const decoded = await stream.waitForFrames(20, 20_000);
      assert.deepEqual([decoded.width, decoded.height], [480, 270]);
      assert.equal(stream.authFailures, 0);
      const offset = stream.annexB().length;
      await stream.reconfigure({ width: 320, height: 180, fps: 15, bitrateKbps: 300 });
      await hb.waitForLog(/Transcode Cam: \[[0-9a-f]{8}\]: reconfigured to 320x180@15fps 300 kbit\/s/);
      await waitFor(async () => {
        const tail = await decodeH264(stream.annexB().subarray(offset));
        return tail.frames >= 10 && tail.width === 320 && tail.height === 180 ? tail : undefined;
      }, { timeoutMs: 20_000, intervalMs: 500, what: 'frames at the reconfigured size' });
      assert.equal(viewerFfmpegs(hb), 1, 'the old FFmpeg was replaced, not added');
      // Same SSRC and key, sequence and timestamps run on: the RFC 3711 replay window refuses nothing.
      assert.equal(stream.authFailures, 0);
      assert.equal(stream.replays, 0, 'packets refused as replays after the FFmpeg restart');
      assert.equal(stream.depacketizer.stats.gaps, 0, 'sequence gaps across the restart');
      assert.equal(stream.video.ssrcMismatches, 0);
      await stream.stop();
      await waitForNoViewers(hb);
    } finally {
      await tx.close();
    }
  });

  it('RECONFIGURE while waiting for the first keyframe is applied; a flood of them restarts FFmpeg once', async () => {
    const tx = await pairWith('Transcode Cold');
    try {
      const stream = await tx.startStream({ width: 480, height: 270, fps: 15, bitrateKbps: 600 });
      streams.push(stream);
      // The feed is cold: this lands before the camera's first keyframe.
      await stream.reconfigure({ width: 320, height: 180, fps: 15, bitrateKbps: 300 });
      const first = await stream.waitForFrames(10, 20_000);
      assert.deepEqual([first.width, first.height], [320, 180], 'the size asked for during the wait');
      const from = hb.logs.length;
      const offset = stream.annexB().length;
      for (let i = 0; i < 10; i++) await stream.reconfigure({ width: 480, height: 270, fps: 15, bitrateKbps: 400 + i });
      await waitFor(async () => {
        const tail = await decodeH264(stream.annexB().subarray(offset));
        return tail.frames >= 10 && tail.width === 480 ? tail : undefined;
      }, { timeoutMs: 20_000, intervalMs: 500, what: 'frames after the flood' });
      const restarts = hb.logs.slice(from).filter((l) => /Transcode Cold: \[[0-9a-f]{8}\]: reconfigured to/.test(l)).length;
      console.log(`10 RECONFIGUREs → ${restarts} FFmpeg restart(s)`);
      assert.ok(restarts >= 1 && restarts <= 2, `restarts: ${restarts}`);
      assert.equal(stream.replays + stream.authFailures + stream.depacketizer.stats.gaps, 0, JSON.stringify(stream.stats()));
      await stream.stop();
      await waitForNoViewers(hb);
    } finally {
      await tx.close();
    }
  });
});
