/**
 * Main stream + substream cameras through the real HomeKit controller: each viewer gets a copy of
 * the smallest H.264 stream at least as large as it asked for (else the largest H.264 one), only the
 * chosen stream's RTSP session is opened, and snapshots prefer a stream that is already live.
 * Each camera is one fixture process serving its main stream and, from a second encoder, its
 * substream on a second mount; streams pulled (RTSP PLAY) are counted per mount. The health
 * probe's SETUP + TEARDOWN transport check on the main stream is not a stream pulled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jpegInfo } from '../helpers/h264-decode.js';
import { HapCameraClient, type StreamHandle } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

describe('main stream + substreams', () => {
  let hevc: RtspCamera;
  let avc: RtspCamera;
  let hb: Homebridge;
  const clients: HapCameraClient[] = [];
  const streams: StreamHandle[] = [];

  before(async () => {
    // Small and cheap: 2 cores are shared. x265 at 2560x1440 only at 5 fps, ultrafast, low bitrate.
    [hevc, avc] = await Promise.all([
      RtspCamera.start({ codec: 'h265', width: 2560, height: 1440, fps: 5, gopSeconds: 1, bitrate: 400, path: '/main', sub: { width: 640, height: 360, fps: 10 } }),
      RtspCamera.start({ width: 1280, height: 720, fps: 10, gopSeconds: 1, bitrate: 600, path: '/main', sub: { width: 640, height: 360, fps: 10 } }),
    ]);
    hb = await Homebridge.start({
      platform: {
        debug: true,
        sourceLingerSeconds: 1,
        cameras: [
          { id: 'hevc-main', name: 'HEVC Main', source: hevc.url, substreams: [{ name: 'sub', source: hevc.subUrl }] },
          { id: 'avc-main', name: 'AVC Main', source: avc.url, substreams: [{ name: 'sub', source: avc.subUrl }] },
          { id: 'avc-tx', name: 'AVC Transcode', source: avc.url, substreams: [{ name: 'sub', source: avc.subUrl }], video: { mode: 'transcode', maxBitrate: 600 } },
        ],
      },
    });
  });

  after(async () => {
    for (const s of streams) await s.dispose().catch(() => undefined);
    for (const c of clients) await c.close().catch(() => undefined);
    await hb?.dispose();
    await Promise.all([hevc?.stop(), avc?.stop()]);
  });

  async function pairWith(name: string): Promise<HapCameraClient> {
    const client = await HapCameraClient.pair({ port: await hb.accessoryPort(name), pin: TEST_PIN });
    clients.push(client);
    return client;
  }

  function ffmpegs(): { args: string }[] {
    const pid = hb.pid;
    return pid ? descendants(pid).filter((p) => p.comm === 'ffmpeg') : [];
  }

  const transcoders = (): number => ffmpegs().filter((p) => p.args.includes('libx264')).length;

  async function watch(client: HapCameraClient, width: number, height: number): Promise<{ stream: StreamHandle; line: string; decoded: Awaited<ReturnType<StreamHandle['waitForFrames']>> }> {
    const from = hb.logs.length;
    const stream = await client.startStream({ width, height, fps: 15, bitrateKbps: 600 });
    streams.push(stream);
    const decoded = await stream.waitForFrames(15, 25_000);
    const line = await hb.waitForLog(/stream started/, 5000, from);
    return { stream, line, decoded };
  }

  /** The cameras have no RTSP session left on any mount (the feeds lingered out). */
  async function idle(...cameras: RtspCamera[]): Promise<void> {
    await waitFor(() => cameras.every((c) => c.activeSessions() === 0), { timeoutMs: 15_000, what: 'camera sessions closed' });
  }

  it('H.265 main + H.264 sub: 640x360 and 1920x1080 both copy the sub; the H.265 main is never opened for viewers', async (t) => {
    const client = await pairWith('HEVC Main');
    const mark = hevc.mark();

    const small = await watch(client, 640, 360);
    t.diagnostic(`640x360 request: ${small.decoded.frames} frames ${small.decoded.width}x${small.decoded.height}; ${small.line}`);
    assert.deepEqual([small.decoded.width, small.decoded.height], [640, 360]);
    assert.equal(small.decoded.errors, '', 'no decoder errors');
    assert.match(small.line, /copy, sent from Node; stream sub 640x360 H\.264: the smallest H\.264 stream at least 640x360/);
    assert.equal(transcoders(), 0, 'no transcoding FFmpeg');
    await small.stream.stop();

    // No H.264 stream covers 1920x1080: the rule copies the largest H.264 stream (the sub), it never
    // transcodes the H.265 main while an H.264 stream exists.
    const large = await watch(client, 1920, 1080);
    t.diagnostic(`1920x1080 request: ${large.decoded.frames} frames ${large.decoded.width}x${large.decoded.height}; ${large.line}`);
    assert.deepEqual([large.decoded.width, large.decoded.height], [640, 360]);
    assert.equal(large.decoded.errors, '', 'no decoder errors');
    assert.match(large.line, /stream sub 640x360 H\.264: the largest H\.264 stream \(none is 1920x1080\)/);
    assert.equal(transcoders(), 0, 'no transcoding FFmpeg');

    // A snapshot while the sub is live comes from it, even at a size the sub does not cover.
    const live = await client.snapshot(1280, 720);
    assert.deepEqual(await jpegInfo(live.jpeg).then((i) => [i.width, i.height]), [1280, 720]);
    await large.stream.stop();

    assert.equal(hevc.sessionsPlayed(hevc.path, mark), 0, 'the H.265 main had no RTSP session');
    assert.ok(hevc.sessionsPlayed(hevc.subPath, mark) >= 1, 'the sub was opened');
    t.diagnostic(`sub sessions: ${hevc.sessionsPlayed(hevc.subPath, mark)}`);
  });

  it('H.265 main + H.264 sub: a snapshot with nothing live comes from the smallest stream covering it (the H.265 main for 1920x1080)', async (t) => {
    const client = clients[0] ?? await pairWith('HEVC Main');
    await idle(hevc);
    const mark = hevc.mark();
    const from = hb.logs.length;
    // A cold 2560x1440 H.265 feed can miss HomeKit's 4.5 s budget on this shared 2-core machine (the
    // answer is then the last good picture); the next poll finds the main live and decodes its GOP.
    let snap: Awaited<ReturnType<HapCameraClient['snapshot']>> | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const mark = hb.logs.length;
      snap = await client.snapshot(1920, 1080);
      const live = hb.logs.slice(mark).some((l) => /HEVC Main: snapshot 1920x1080 in \d+ ms/.test(l));
      t.diagnostic(`attempt ${attempt}: ${Math.round(snap.ms)} ms, ${snap.jpeg.length} bytes, ${live ? 'live' : 'fallback'}`);
      if (live) break;
    }
    assert.ok(snap);
    assert.ok(hb.logs.slice(from).some((l) => /HEVC Main: snapshot 1920x1080 in \d+ ms/.test(l)), 'a live picture, not the fallback');
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [1920, 1080]);
    assert.ok(hevc.sessionsPlayed(hevc.path, mark) >= 1, 'the main stream was opened for the snapshot');
    assert.equal(hevc.sessionsPlayed(hevc.subPath, mark), 0, 'the sub was not');
  });

  it('H.264 main + H.264 sub: 1280x720 copies the main, 320x240 copies the sub, a snapshot meanwhile reuses the live sub', async (t) => {
    const client = await pairWith('AVC Main');
    let mark = avc.mark();

    const big = await watch(client, 1280, 720);
    t.diagnostic(`1280x720 request: ${big.decoded.frames} frames ${big.decoded.width}x${big.decoded.height}; ${big.line}`);
    assert.deepEqual([big.decoded.width, big.decoded.height], [1280, 720]);
    assert.equal(big.decoded.errors, '', 'no decoder errors');
    assert.match(big.line, /copy, sent from Node; stream main 1280x720 H\.264: the smallest H\.264 stream at least 1280x720/);
    assert.equal(avc.sessionsPlayed(avc.path, mark), 1);
    assert.equal(avc.sessionsPlayed(avc.subPath, mark), 0, 'the sub was not opened');
    await big.stream.stop();
    await idle(avc);

    mark = avc.mark();
    const watchSize = await watch(client, 320, 240);
    t.diagnostic(`320x240 request: ${watchSize.decoded.frames} frames ${watchSize.decoded.width}x${watchSize.decoded.height}; ${watchSize.line}`);
    assert.deepEqual([watchSize.decoded.width, watchSize.decoded.height], [640, 360]);
    assert.equal(watchSize.decoded.errors, '', 'no decoder errors');
    assert.match(watchSize.line, /copy, sent from Node; stream sub 640x360 H\.264: the smallest H\.264 stream at least 320x240/);
    assert.equal(transcoders(), 0, 'no transcoding FFmpeg');
    assert.equal(avc.sessionsPlayed(avc.subPath, mark), 1);

    const snapMark = avc.mark();
    const snap = await client.snapshot(640, 360);
    assert.deepEqual(await jpegInfo(snap.jpeg).then((i) => [i.width, i.height]), [640, 360]);
    assert.equal(avc.sessionsPlayed(avc.subPath, snapMark), 0, 'the snapshot used the live sub (no new RTSP session)');
    assert.equal(avc.sessionsPlayed(avc.path, snapMark), 0, 'nor the main');
    assert.equal(avc.sessionsPlayed(avc.path, mark), 0, 'the main was never opened while the sub was watched');
    await watchSize.stream.stop();
  });

  it('video.mode transcode: a transcode of the best (largest) stream at the requested size', async (t) => {
    const client = await pairWith('AVC Transcode');
    await idle(avc);
    const mark = avc.mark();
    const tx = await watch(client, 640, 360);
    t.diagnostic(`640x360 request: ${tx.decoded.frames} frames ${tx.decoded.width}x${tx.decoded.height}; ${tx.line}`);
    assert.deepEqual([tx.decoded.width, tx.decoded.height], [640, 360]);
    assert.equal(tx.decoded.errors, '', 'no decoder errors');
    assert.match(tx.line, /stream started \(transcode libx264 640x360.*stream main 1280x720 H\.264: video mode is transcode/);
    assert.equal(avc.sessionsPlayed(avc.path, mark), 1);
    assert.equal(avc.sessionsPlayed(avc.subPath, mark), 0, 'the sub was not opened');
    await tx.stream.stop();
  });

  it('teardown: every feed lingers out, no FFmpeg is left and no camera session stays open', async () => {
    for (const s of streams.splice(0)) await s.dispose();
    await idle(hevc, avc);
    await waitFor(() => ffmpegs().length === 0, { timeoutMs: 10_000, what: 'no FFmpeg under Homebridge' });
  });
});
