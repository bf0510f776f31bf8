/**
 * Copy viewers sent from Node (src/rtp): no FFmpeg for their video. The real HomeKit controller
 * client authenticates every packet, applies the RFC 3711 replay window, checks sequence continuity
 * and decodes the picture; the fixture camera restarts under a watching viewer.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { decodeH264 } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

/** Viewer FFmpegs that carry video (an audio-only one maps no video). */
function videoFfmpegs(hb: Homebridge): number {
  return hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args) && p.args.includes('0:v:0')).length : 0;
}

function assertClean(stream: StreamHandle, what: string): void {
  const s = stream.stats();
  assert.equal(stream.authFailures, 0, `${what}: auth failures ${JSON.stringify(s)}`);
  assert.equal(stream.replays, 0, `${what}: replayed packets`);
  assert.equal(stream.depacketizer.stats.gaps, 0, `${what}: sequence gaps`);
  assert.equal(stream.video.ssrcMismatches + stream.video.payloadTypeMismatches, 0, `${what}: SSRC/PT`);
}

describe('copy viewers sent from Node', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const streams: StreamHandle[] = [];

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2, audio: true });
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 2,
        cameras: [
          { id: 'node-cam', name: 'Node Cam', source: camera.url, maxStreams: 4, video: { mode: 'copy' }, audio: { enabled: true } },
          { id: 'eight', name: 'Eight Cam', source: camera.url, maxStreams: 8, video: { mode: 'copy' } },
        ],
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Node Cam'), pin: TEST_PIN });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('a cold viewer decodes the camera picture with no FFmpeg of its own, every packet clean, within the MTU', async () => {
    const stream = await client.startStream({ width: 1280, height: 720, fps: 30, bitrateKbps: 1500, mtu: 1200, audio: { codec: 'opus', sampleRate: 16 } });
    streams.push(stream);
    const decoded = await stream.waitForFrames(30, 20_000);
    assert.deepEqual([decoded.width, decoded.height], [640, 360]);
    assert.equal(decoded.errors.trim(), '', 'decoder errors');
    assertClean(stream, 'cold viewer');
    assert.ok(stream.video.maxPacketBytes <= 1200, `largest datagram ${stream.video.maxPacketBytes}`);
    assert.equal(videoFfmpegs(hb), 0);
    // Audio still needs a transcoder (camera AAC → Opus): one audio-only FFmpeg, relayed through Node.
    await stream.waitForPackets(25, 10_000, 'audio');
    assert.ok((await stream.decodeAudio()).frames > 20);
    assert.equal(stream.audio.replays, 0);
    await waitFor(() => stream.packets.rtcpIn > 0, { timeoutMs: 5000, what: 'an SRTCP sender report' });
    console.log(`node copy (cold): START → first packet ${stream.firstPacketMs?.toFixed(0)} ms, first IDR ${stream.firstIdrMs?.toFixed(0)} ms`);
    await stream.stop();
    await hb.waitForLog(/Node Cam: \[[0-9a-f]{8}\]: stream stopped after [\d.]+ s \(stopped by HomeKit\)/);
  });

  it('a warm joiner gets the cached GOP at once without falling behind live, sequence continuous from burst to live', async () => {
    const warm = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 0 });
    streams.push(warm);
    await warm.waitForFrames(20, 20_000);
    const joiner = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: 1 });
    streams.push(joiner);
    await joiner.waitForFrames(1, 5000);
    console.log(`node copy (warm): START → first IDR ${joiner.firstIdrMs?.toFixed(0)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const lag = joiner.videoMediaMinusWallMs ?? Infinity;
    console.log(`node copy (warm): media time − wall time over 6 s ${lag.toFixed(0)} ms`);
    assert.ok(lag <= 150, `media minus wall ${lag.toFixed(0)} ms`);
    const decoded = await decodeH264(joiner.annexB());
    assert.ok(decoded.frames >= 60, `decoded ${decoded.frames}`);
    assert.equal(decoded.errors.trim(), '');
    assertClean(joiner, 'joiner');
    assertClean(warm, 'first viewer');
    await Promise.all([warm.stop(), joiner.stop()]);
  });

  it('RTCP that does not authenticate with the viewer key keeps no session alive', async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    const port = stream.setup?.address?.videoPort ?? 0;
    const forger = createSocket('udp4');
    // Looks like an RR with an SRTCP trailer and tag, from a host without the key.
    const junk = Buffer.concat([Buffer.from([0x80, 201, 0, 1, 1, 2, 3, 4]), Buffer.alloc(4, 0x80), Buffer.alloc(10, 0xaa)]);
    const timer = setInterval(() => forger.send(junk, port, '127.0.0.1'), 200);
    try {
      stream.goSilent();
      const from = hb.logs.length;
      await hb.waitForLog(/Node Cam: \[[0-9a-f]{8}\]: viewer sent no RTCP/, 20_000, from);
    } finally {
      clearInterval(timer);
      forger.close();
    }
  });

  it('a viewer watching through a ~5 s camera restart keeps its session and decodes pictures from after it', async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    await stream.waitForFrames(15, 20_000);
    const from = hb.logs.length;
    const before = (await decodeH264(stream.annexB())).frames;
    await camera.stop();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await camera.startAgain();
    await hb.waitForLog(/Node Cam: \[[0-9a-f]{8}\]: camera feed back/, 20_000, from);
    // The whole stream decodes, across the drop: the restarted feed's first frame sent is its keyframe.
    const after = await waitFor(async () => {
      const all = await decodeH264(stream.annexB());
      return all.frames >= before + 15 ? all : undefined;
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'pictures after the restart' });
    assert.equal(after.errors.trim(), '');
    assert.ok(!hb.logs.slice(from).some((l) => /Node Cam: \[[0-9a-f]{8}\]: stream stopped/.test(l)), 'the session stayed');
    assertClean(stream, 'through the restart');
    await stream.stop();
  });

  it('a camera gone for over 15 s ends the viewer and tells HomeKit', { timeout: 90_000 }, async () => {
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    streams.push(stream);
    await stream.waitForFrames(10, 20_000);
    const from = hb.logs.length;
    const stoppedAt = performance.now();
    await camera.stop();
    try {
      await hb.waitForLog(/Node Cam: \[[0-9a-f]{8}\]: camera feed gone for over 15 s/, 30_000, from);
      const endedMs = performance.now() - stoppedAt;
      console.log(`camera gone: session ended ${endedMs.toFixed(0)} ms after the camera stopped`);
      assert.ok(endedMs >= 15_000, `ended after ${endedMs.toFixed(0)} ms`);
      await waitFor(async () => (await client.streamingStatus(0)) === 0 ? true : undefined, { timeoutMs: 10_000, what: 'the stream service available again' });
    } finally {
      await camera.startAgain();
    }
  });

  it('8 viewers of one camera all decode clean, with no FFmpeg for any of them', async () => {
    const eight = await HapCameraClient.pair({ port: await hb.accessoryPort('Eight Cam'), pin: TEST_PIN });
    try {
      const viewers = await Promise.all(Array.from({ length: 8 }, (_, i) => eight.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800, streamIndex: i })));
      streams.push(...viewers);
      const decoded = await Promise.all(viewers.map((v) => v.waitForFrames(30, 30_000)));
      for (const [i, d] of decoded.entries()) {
        assert.deepEqual([d.width, d.height], [640, 360]);
        assert.equal(d.errors.trim(), '', `viewer ${i} decoder errors`);
        const viewer = viewers[i];
        if (viewer) assertClean(viewer, `viewer ${i}`);
      }
      assert.equal(hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg' && /\bs?rtp:\/\//.test(p.args)).length : -1, 0);
      await Promise.all(viewers.map((v) => v.stop()));
    } finally {
      await eight.close();
    }
  });
});
