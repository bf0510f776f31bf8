/**
 * Self-test of the HomeKit controller rig against a real HAP-NodeJS camera
 * accessory (in-process, loopback only) whose delegate streams FFmpeg testsrc
 * over SRTP exactly where and how the controller asked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Accessory, Characteristic, DoorbellController, HAPStorage, Service, uuid } from '@homebridge/hap-nodejs';
import type {
  CameraStreamingDelegate,
  H264Level,
  H264Profile,
  PrepareStreamCallback,
  PrepareStreamRequest,
  PrepareStreamResponse,
  SnapshotRequest,
  SnapshotRequestCallback,
  StreamingRequest,
  StreamRequestCallback,
} from '@homebridge/hap-nodejs';
import { HapCameraClient, HapStatusError, StreamingStatus } from '../helpers/hap-camera-client.js';
import type { StreamHandle } from '../helpers/hap-camera-client.js';
import { SrtpContext, keysToBase64, makeKeys } from '../helpers/srtp.js';
import type { SrtpKeys } from '../helpers/srtp.js';
import { jpegInfo, looksLikeJpeg } from '../helpers/h264-decode.js';

const PIN = '031-45-154';

// ------------------------------------------------------------------ fake camera (accessory side)

interface FakeSession {
  id: string;
  request: PrepareStreamRequest;
  videoSock: Socket;
  audioSock: Socket;
  videoKeys: SrtpKeys;
  audioKeys: SrtpKeys;
  videoSsrc: number;
  audioSsrc: number;
  /** Controller's keys: what its SRTCP to us must authenticate with. */
  rtcpVideo: SrtpContext;
  rtcpAudio: SrtpContext;
  ffmpeg?: ChildProcess;
  ffmpegExited?: Promise<void>;
  ffmpegExitAt?: number;
  stderr: string;
}

interface DelegateEvent {
  type: 'prepare' | 'start' | 'reconfigure' | 'stop';
  sessionId: string;
  at: number;
  detail?: unknown;
}

/** 31-bit positive like CameraController.generateSynchronisationSource, so FFmpeg's int option takes it. */
const ssrc31 = (): number => randomBytes(4).readUInt32BE(0) & 0x7fffffff;

function runForStdout(cmd: string, args: string[], timeoutMs: number, track: Set<ChildProcess>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track.add(child);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      track.delete(child);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
}

class FakeCamera implements CameraStreamingDelegate {
  readonly sessions = new Map<string, FakeSession>();
  readonly events: DelegateEvent[] = [];
  readonly children = new Set<ChildProcess>();

  handleSnapshotRequest(request: SnapshotRequest, callback: SnapshotRequestCallback): void {
    runForStdout(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', `testsrc=size=${request.width}x${request.height}:rate=1`,
        '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2', 'pipe:1'],
      10_000,
      this.children,
    ).then((jpeg) => callback(undefined, jpeg), (err: Error) => callback(err));
  }

  prepareStream(request: PrepareStreamRequest, callback: PrepareStreamCallback): void {
    void (async () => {
      const bind = async (): Promise<Socket> => {
        const s = createSocket('udp4');
        s.on('error', () => undefined);
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
        return s;
      };
      const session: FakeSession = {
        id: request.sessionID,
        request,
        videoSock: await bind(),
        audioSock: await bind(),
        // fresh accessory keys (not an echo) so the client must use the response's keys
        videoKeys: makeKeys(),
        audioKeys: makeKeys(),
        videoSsrc: ssrc31(),
        audioSsrc: ssrc31(),
        rtcpVideo: new SrtpContext({ key: request.video.srtp_key, salt: request.video.srtp_salt }),
        rtcpAudio: new SrtpContext({ key: request.audio.srtp_key, salt: request.audio.srtp_salt }),
        stderr: '',
      };
      session.videoSock.on('message', (m) => session.rtcpVideo.unprotectRtcp(m));
      session.audioSock.on('message', (m) => session.rtcpAudio.unprotectRtcp(m));
      this.sessions.set(request.sessionID, session);
      this.events.push({ type: 'prepare', sessionId: request.sessionID, at: performance.now(), detail: { target: request.targetAddress, video: request.video.port, audio: request.audio.port } });
      const response: PrepareStreamResponse = {
        video: { port: session.videoSock.address().port, ssrc: session.videoSsrc, srtp_key: session.videoKeys.key, srtp_salt: session.videoKeys.salt },
        audio: { port: session.audioSock.address().port, ssrc: session.audioSsrc, srtp_key: session.audioKeys.key, srtp_salt: session.audioKeys.salt },
      };
      callback(undefined, response);
    })().catch((err: Error) => callback(err));
  }

  handleStreamRequest(request: StreamingRequest, callback: StreamRequestCallback): void {
    const session = this.sessions.get(request.sessionID);
    const at = performance.now();
    if ('audio' in request) {
      this.events.push({ type: 'start', sessionId: request.sessionID, at, detail: { video: request.video, audio: request.audio } });
      if (!session) return callback(new Error('unknown session'));
      const v = request.video;
      const a = request.audio;
      const target = session.request.targetAddress;
      const args = [
        '-hide_banner', '-loglevel', 'error', '-nostdin',
        '-re', '-f', 'lavfi', '-i', `testsrc=size=${v.width}x${v.height}:rate=${v.fps}`,
        '-re', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${a.sample_rate * 1000}`,
        '-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline',
        '-pix_fmt', 'yuv420p', '-g', String(v.fps), '-b:v', `${v.max_bit_rate}k`, '-maxrate', `${v.max_bit_rate}k`, '-bufsize', `${v.max_bit_rate * 2}k`,
        '-payload_type', String(v.pt), '-ssrc', String(session.videoSsrc), '-f', 'rtp',
        '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', keysToBase64(session.videoKeys),
        `srtp://${target}:${session.request.video.port}?rtcpport=${session.request.video.port}&localaddr=127.0.0.1&pkt_size=${v.mtu}`,
        '-map', '1:a', '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', String(a.packet_time),
        '-b:a', `${a.max_bit_rate}k`, '-ac', String(a.channel), '-ar', String(a.sample_rate * 1000),
        '-payload_type', String(a.pt), '-ssrc', String(session.audioSsrc), '-f', 'rtp',
        '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', keysToBase64(session.audioKeys),
        `srtp://${target}:${session.request.audio.port}?rtcpport=${session.request.audio.port}&localaddr=127.0.0.1&pkt_size=188`,
      ];
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      this.children.add(child);
      child.stderr.on('data', (d: Buffer) => (session.stderr += d.toString()));
      session.ffmpeg = child;
      session.ffmpegExited = new Promise((resolve) =>
        child.once('exit', () => {
          session.ffmpegExitAt = performance.now();
          this.children.delete(child);
          resolve();
        }),
      );
      callback();
    } else if ('video' in request) {
      this.events.push({ type: 'reconfigure', sessionId: request.sessionID, at, detail: request.video });
      callback();
    } else {
      this.events.push({ type: 'stop', sessionId: request.sessionID, at });
      if (session) {
        session.ffmpeg?.kill('SIGKILL');
        session.videoSock.close();
        session.audioSock.close();
      }
      callback();
    }
  }

  eventsFor(sessionId: string, type: DelegateEvent['type']): DelegateEvent[] {
    return this.events.filter((e) => e.sessionId === sessionId && e.type === type);
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.sessions.values()) {
      for (const sock of [s.videoSock, s.audioSock]) {
        try {
          sock.close();
        } catch {
          // already closed
        }
      }
    }
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ------------------------------------------------------------------ tests

describe('HapCameraClient against HAP-NodeJS', () => {
  const camera = new FakeCamera();
  let storageDir = '';
  let accessory: Accessory | undefined;
  let doorbell: DoorbellController | undefined;
  let port = 0;
  let client: HapCameraClient | undefined;
  const handles: StreamHandle[] = [];
  const originalParseBind: unknown = Reflect.get(Accessory, 'parseBindOption');

  before(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'hbcctv-hap-'));
    HAPStorage.setCustomStoragePath(storageDir);
    // bind: '127.0.0.1' restricts ciao's mDNS to loopback but HAP-NodeJS still
    // listens on 0.0.0.0; pin the HAP server itself to loopback as well.
    if (typeof originalParseBind === 'function') {
      Reflect.set(Accessory, 'parseBindOption', (info: unknown) => {
        const parsed: unknown = Reflect.apply(originalParseBind, Accessory, [info]);
        return { ...(parsed as object), serverAddress: '127.0.0.1' };
      });
    }
    const acc = new Accessory('Fake Cam', uuid.generate(`hbcctv-test-${randomUUID()}`));
    acc.getService(Service.AccessoryInformation)
      ?.setCharacteristic(Characteristic.Manufacturer, 'TestCo')
      .setCharacteristic(Characteristic.Model, 'FC-1')
      .setCharacteristic(Characteristic.SerialNumber, 'SN123')
      .setCharacteristic(Characteristic.FirmwareRevision, '1.2.3');
    const controller = new DoorbellController({
      cameraStreamCount: 2,
      delegate: camera,
      sensors: { motion: true },
      streamingOptions: {
        supportedCryptoSuites: [0],
        video: {
          codec: { profiles: [0, 1, 2] as H264Profile[], levels: [0, 1, 2] as H264Level[] },
          resolutions: [[1280, 720, 30], [640, 360, 30], [320, 240, 15]],
        },
        audio: { codecs: [{ type: 'OPUS', samplerate: 24 }] },
      },
    });
    acc.configureController(controller);
    accessory = acc;
    doorbell = controller;
    const listening = new Promise<number>((resolve) => acc.once('listening', (p: number) => resolve(p)));
    await acc.publish({
      username: randomBytes(6).toString('hex').toUpperCase().match(/../g)?.join(':') ?? '12:34:56:78:9A:BC',
      pincode: PIN,
      port: 0,
      category: 17, // IP_CAMERA
      bind: '127.0.0.1',
      addIdentifyingMaterial: false,
    });
    port = await Promise.race([
      listening,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('accessory did not listen')), 10_000)),
    ]);
  });

  after(async () => {
    for (const h of handles) await h.dispose().catch(() => undefined);
    await client?.close().catch(() => undefined);
    camera.killAll();
    await accessory?.destroy().catch(() => undefined);
    if (typeof originalParseBind === 'function') Reflect.set(Accessory, 'parseBindOption', originalParseBind);
    await rm(storageDir, { recursive: true, force: true });
  });

  it('pairs and lists the camera', async (t) => {
    client = await HapCameraClient.pair({ host: '127.0.0.1', port, pin: PIN });
    t.diagnostic(`pair-setup ${client.pairMs.toFixed(0)} ms`);
    const cam = await client.findCamera();
    assert.equal(cam.information.manufacturer, 'TestCo');
    assert.equal(cam.information.model, 'FC-1');
    assert.equal(cam.information.serialNumber, 'SN123');
    assert.equal(cam.information.firmwareRevision, '1.2.3');
    assert.equal(cam.information.name, 'Fake Cam');
    assert.equal(cam.streams.length, 2);
    assert.ok(cam.motionDetected, 'motion sensor iid');
    assert.ok(cam.doorbellEvent, 'doorbell event iid');
    const cfg = await client.readStreamConfig();
    assert.deepEqual(cfg.cryptoSuites, [0]);
    assert.deepEqual(cfg.video[0]?.resolutions, [[1280, 720, 30], [640, 360, 30], [320, 240, 15]]);
    assert.deepEqual(cfg.audio.codecs.map((c) => c.type), [3]);
    assert.equal(await client.streamingStatus(), StreamingStatus.AVAILABLE);
  });

  it('receives motion and doorbell events', async () => {
    assert.ok(client && accessory && doorbell);
    const cam = await client.findCamera();
    assert.ok(cam.motionDetected && cam.doorbellEvent);
    const seen: Array<{ iid: number; value: unknown }> = [];
    const off = client.onEvent((e) => seen.push(e));
    await client.subscribe([cam.motionDetected, cam.doorbellEvent]);
    accessory.getService(Service.MotionSensor)?.updateCharacteristic(Characteristic.MotionDetected, true);
    doorbell.ringDoorbell();
    const motionIid = cam.motionDetected.iid;
    const bellIid = cam.doorbellEvent.iid;
    // HAP-NodeJS sends bools as 0/1 in events
    const motion = (v: unknown): boolean => v === true || v === 1;
    await until(() => seen.some((e) => e.iid === motionIid && motion(e.value)) && seen.some((e) => e.iid === bellIid && e.value === 0), 5_000, 'motion + doorbell events');
    off();
    assert.ok(motion(await client.readValue(cam.motionDetected)));
  });

  it('takes a snapshot of the requested size', async (t) => {
    assert.ok(client);
    const snap = await client.snapshot(640, 360);
    t.diagnostic(`snapshot 640x360 ${snap.ms.toFixed(0)} ms, ${snap.jpeg.length} bytes`);
    assert.ok(looksLikeJpeg(snap.jpeg));
    assert.deepEqual(await jpegInfo(snap.jpeg), { width: 640, height: 360, codec: 'mjpeg' });
  });

  it('streams: START → decodable frames, all packets authenticate, RTCP reaches the accessory, STOP kills FFmpeg', async (t) => {
    assert.ok(client);
    const h = await client.startStream({ width: 320, height: 240, fps: 15, bitrateKbps: 300, mtu: 1378, audio: { codec: 'opus', sampleRate: 24 } });
    handles.push(h);
    const dec = await h.waitForFrames(20, 15_000);
    t.diagnostic(`stream ${JSON.stringify(h.stats())}`);
    assert.equal(dec.width, 320);
    assert.equal(dec.height, 240);
    assert.equal(h.authFailures, 0);
    assert.ok(h.depacketizer.sawSps && h.depacketizer.sawPps && h.depacketizer.sawIdr);
    assert.ok(h.firstPacketMs !== undefined && h.firstIdrMs !== undefined);
    await h.waitForPackets(20, 5_000, 'audio');
    const audio = await h.decodeAudio();
    assert.equal(audio.codec, 'opus');
    assert.ok(audio.frames >= 20, `decoded ${audio.frames} opus frames`);
    assert.equal(h.stats().ssrcMismatches, 0);
    assert.ok(h.video.maxPacketBytes <= 1378, `video datagram of ${h.video.maxPacketBytes} bytes exceeds MTU`);
    assert.equal(h.depacketizer.spsProfile?.profileIdc, 66); // the fake camera encodes baseline

    const start = camera.eventsFor(h.sessionId, 'start')[0];
    assert.ok(start, 'delegate saw START');
    assert.deepEqual(
      (start.detail as { video: { width: number; height: number; fps: number; max_bit_rate: number; mtu: number; pt: number } }).video,
      { ...(start.detail as { video: object }).video, width: 320, height: 240, fps: 15, max_bit_rate: 300, mtu: 1378, pt: 99 },
    );
    const session = camera.sessions.get(h.sessionId);
    assert.ok(session);
    assert.ok(session.rtcpVideo.stats.rtcpOk >= 2, `accessory got ${session.rtcpVideo.stats.rtcpOk} video RTCP`);
    assert.ok(session.rtcpAudio.stats.rtcpOk >= 2, `accessory got ${session.rtcpAudio.stats.rtcpOk} audio RTCP`);
    assert.equal(session.rtcpVideo.authFailures + session.rtcpAudio.authFailures, 0);

    // goSilent: RTCP stops, media keeps flowing
    h.goSilent();
    await new Promise((r) => setTimeout(r, 100));
    const rtcpBefore = session.rtcpVideo.stats.rtcpOk;
    const videoBefore = h.packets.video;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(session.rtcpVideo.stats.rtcpOk, rtcpBefore);
    assert.ok(h.packets.video > videoBefore);

    await h.reconfigure({ width: 320, height: 240, fps: 15, bitrateKbps: 200 });
    assert.equal(camera.eventsFor(h.sessionId, 'reconfigure').length, 1);

    // HAP-NodeJS does not implement SUSPEND/RESUME
    await assert.rejects(h.suspend(), (e: unknown) => e instanceof HapStatusError && e.status === -70410);

    const stopT0 = performance.now();
    await h.stop();
    assert.equal(camera.eventsFor(h.sessionId, 'stop').length, 1);
    await Promise.race([session.ffmpegExited, new Promise((_, rej) => setTimeout(() => rej(new Error('ffmpeg still running')), 5_000))]);
    t.diagnostic(`STOP → ffmpeg exit ${((session.ffmpegExitAt ?? 0) - stopT0).toFixed(0)} ms`);
    assert.ok(await h.waitForSilence(500, 5_000), 'media still flowing after STOP');
    assert.equal(h.authFailures, 0);
    assert.equal(await client.streamingStatus(), StreamingStatus.AVAILABLE);
    await h.dispose();
  });

  it('rejects a second SetupEndpoints on a busy stream service', async () => {
    assert.ok(client);
    const h = await client.startStream({ width: 320, height: 240, fps: 15, bitrateKbps: 200 });
    handles.push(h);
    await assert.rejects(client.startStream({ width: 320, height: 240, fps: 15, bitrateKbps: 200 }), /BUSY/);
    // the other RTP stream service is free
    const h2 = await client.startStream({ width: 320, height: 240, fps: 15, bitrateKbps: 200, streamIndex: 1, connection: 'shared' });
    handles.push(h2);
    await h2.waitForFrames(5, 15_000);
    await h.stop();
    await h2.stop();
    await h.dispose();
    await h2.dispose();
  });

  it('dropConnection() makes HAP-NodeJS end the session and the delegate kill FFmpeg', async (t) => {
    assert.ok(client);
    const h = await client.startStream({ width: 640, height: 360, fps: 30, bitrateKbps: 800, streamIndex: 1 });
    handles.push(h);
    await h.waitForFrames(10, 15_000);
    assert.equal(await client.streamingStatus(1), StreamingStatus.IN_USE);
    const session = camera.sessions.get(h.sessionId);
    assert.ok(session?.ffmpegExited);
    const t0 = performance.now();
    await h.dropConnection();
    await until(() => camera.eventsFor(h.sessionId, 'stop').length === 1, 5_000, 'delegate STOP after connection drop');
    const stopMs = (camera.eventsFor(h.sessionId, 'stop')[0]?.at ?? 0) - t0;
    await Promise.race([session.ffmpegExited, new Promise((_, rej) => setTimeout(() => rej(new Error('ffmpeg still running')), 5_000))]);
    t.diagnostic(`dropConnection → delegate STOP ${stopMs.toFixed(0)} ms`);
    assert.ok(h.connectionClosed);
    assert.ok(await h.waitForSilence(500, 5_000));
    assert.equal(await client.streamingStatus(1), StreamingStatus.AVAILABLE);
    assert.equal(h.authFailures, 0);
    // a stream handle whose connection is gone fails fast instead of hanging
    await assert.rejects(h.stop(), /connection is closed/);
    await h.dispose();
  });

  it('dropConnection("rst") also ends the session', async () => {
    assert.ok(client);
    const h = await client.startStream({ width: 320, height: 240, fps: 15, bitrateKbps: 200 });
    handles.push(h);
    await h.waitForPackets(5, 10_000);
    await h.dropConnection('rst');
    await until(() => camera.eventsFor(h.sessionId, 'stop').length === 1, 5_000, 'delegate STOP after RST');
    await h.dispose();
  });
});
