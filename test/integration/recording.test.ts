/**
 * HomeKit Secure Video end to end: real Homebridge, FFmpeg, mosquitto, the fixture camera (stamping
 * the wall clock into its pictures) and the hand-written home hub (test/helpers/hds-hub.ts), which
 * arms recording over HAP, opens a HomeKit Data Stream and receives the clip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BAND_FILTER, readStamp, splitBands } from '../../bench/stamp.js';
import { firstVideoNalTypes, videoTrackId } from '../helpers/fmp4.js';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import type { HdsConnection } from '../helpers/hds-connection.js';
import { CloseReason, HdsHub, REAL_HUB_SELECTION, REAL_HUB_SELECTION_B64, type HubRecording, type SelectedRecordingConfig } from '../helpers/hds-hub.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttRecorder } from '../helpers/mqtt-recorder.js';
import { treeCpuSeconds } from '../helpers/fault-tools.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

/** A real hub's selection (HAP-NodeJS's captured value) at the camera's own size, so copy applies. */
const SELECTION: SelectedRecordingConfig = { ...REAL_HUB_SELECTION, width: 640, height: 360, fps: 15, bitrateKbps: 1000 };

function recordingFfmpegs(hb: Homebridge): number {
  return hb.pid ? descendants(hb.pid).filter((p) => p.comm === 'ffmpeg' && p.args.includes('frag_keyframe')).length : 0;
}

/** CPU use of the running recording FFmpeg since `since` (performance.now()), as "x.x s (y %)". */
function recordingCpu(hb: Homebridge, since: number): string {
  const pid = hb.pid ? descendants(hb.pid).find((p) => p.comm === 'ffmpeg' && p.args.includes('frag_keyframe'))?.pid : undefined;
  if (!pid) return 'unknown';
  const seconds = treeCpuSeconds(pid);
  const wall = (performance.now() - since) / 1000;
  return `${seconds.toFixed(1)} s over ${wall.toFixed(1)} s (${((100 * seconds) / wall).toFixed(0)} % of one core)`;
}

/** Keyframe times (s) of the clip's video. */
async function keyframeTimes(data: Buffer): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-clip-'));
  const file = join(dir, 'clip.mp4');
  try {
    writeFileSync(file, data);
    const out = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { maxBuffer: 16 << 20 });
    return out.stdout.trim().split('\n').map((l) => l.split(',')).filter(([, flags]) => flags?.startsWith('K')).map(([t]) => Number(t));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProbedClip {
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; profile?: string; sample_rate?: string; channels?: number; nb_read_frames?: string }>;
  decodeErrors: string;
  videoDts: number[];
  firstStampMs: number | undefined;
}

async function probeClip(data: Buffer, nowMs: number): Promise<ProbedClip> {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-clip-'));
  const file = join(dir, 'clip.mp4');
  try {
    writeFileSync(file, data);
    const probe = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file], { maxBuffer: 16 << 20 });
    const parsed = JSON.parse(probe.stdout) as { streams: ProbedClip['streams'] };
    // The camera's own timestamps jitter (copy keeps them); in a 1/fps encoder time base two frames can
    // round to one tick, which the null muxer reports although nothing failed to decode. Keep the input's.
    const decode = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-fps_mode', 'passthrough', '-enc_time_base:v', '-1', '-f', 'null', '-'], { maxBuffer: 16 << 20 });
    const packets = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts', '-of', 'csv=p=0', file], { maxBuffer: 16 << 20 });
    const dts = packets.stdout.trim().split('\n').map(Number);
    const band = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-frames:v', '1', '-vf', BAND_FILTER, '-f', 'rawvideo', 'pipe:1'], { encoding: 'buffer', maxBuffer: 16 << 20 });
    const first = splitBands(band.stdout)[0];
    return { streams: parsed.streams, decodeErrors: decode.stderr.trim(), videoDts: dts, firstStampMs: first ? readStamp(first, nowMs) : undefined };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CAMERAS = (url: string): unknown[] => [{ id: 'rec', name: 'Rec Cam', source: url, motion: true, motionTimeoutSeconds: 5, recording: true, audio: { enabled: true } }];

/** Open a recording on a fresh data stream and wait for `fragments` of it. */
async function record(hub: HdsHub, fragments: number): Promise<{ connection: HdsConnection; recording: HubRecording }> {
  const connection = await hub.openDataStream();
  const recording = await hub.openRecording(connection);
  assert.deepEqual(recording.openStatus, { status: 0, reason: 0 }, 'recording accepted');
  await recording.waitForFragments(fragments, 20_000);
  return { connection, recording };
}

/** A refused dataSend.open: HDS status 6 (protocol specific) with the reason in the message. */
async function refusal(hub: HdsHub): Promise<number | undefined> {
  const connection = await hub.openDataStream();
  try {
    const recording = await hub.openRecording(connection);
    assert.equal(recording.openStatus.status, 6, 'protocol-specific refusal');
    return recording.openStatus.reason;
  } finally {
    await connection.close();
  }
}

describe('HomeKit Secure Video recording', () => {
  let broker: Mosquitto;
  let camera: RtspCamera;
  let hb: Homebridge;
  let mqtt: MqttRecorder;
  let client: HapCameraClient;
  let hub: HdsHub;
  let firstHb: Homebridge | undefined;

  before(async () => {
    broker = await Mosquitto.start({ users: { cctv: 'cctv-pass' } });
    // 1 s GOPs: copy applies and the prebuffer can start within a second of 4 s before the motion.
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 1, audio: true, stamp: true });
    mqtt = await MqttRecorder.connect(broker.url, ['cctv/#'], { username: 'cctv', password: 'cctv-pass' });
    hb = await Homebridge.start({
      platform: {
        sourceLingerSeconds: 2,
        cameras: CAMERAS(camera.url),
        mqtt: { url: broker.url, username: 'cctv', password: 'cctv-pass', topicPrefix: 'cctv' },
      },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Rec Cam'), pin: TEST_PIN });
    hub = await HdsHub.connect(client);
  });

  after(async () => {
    await hub?.close();
    await client?.close();
    await mqtt?.close();
    await hb?.dispose();
    await firstHb?.dispose();
    await camera?.stop();
    await broker?.stop();
  });

  it('links the motion sensor and data stream transport to recording management', () => {
    assert.ok(hub.refs.recordingLinks.includes(hub.refs.motionServiceIid), 'motion sensor linked');
    assert.ok(hub.refs.recordingLinks.includes(hub.refs.transportServiceIid), 'data stream transport linked');
  });

  it('MQTT motion → the hub records an fMP4 clip that starts with the prebuffer and decodes cleanly', async () => {
    const from = hb.logs.length;
    await hub.arm(SELECTION, { audio: true });
    await hb.waitForLog(/Rec Cam: recording armed by the home hub/, 10_000, from);
    await mqtt.waitFor('cctv/rec/recording', (p) => (JSON.parse(p) as { status: string }).status === 'armed', 5000);
    // The prebuffer needs 4 s + one GOP of feed before a clip can start that far back.
    await new Promise((r) => setTimeout(r, 6500));

    const motion = (await client.findCamera()).motionDetected;
    assert.ok(motion);
    const seen: unknown[] = [];
    client.onEvent((e) => { if (e.iid === motion.iid) seen.push(e.value); });
    await client.subscribe([motion]);
    const connection = await hub.openDataStream();
    const motionAt = Date.now();
    await mqtt.publish('cctv/rec/motion/set', 'ON');
    await waitFor(() => seen.some((v) => v === true || v === 1), { timeoutMs: 5000, what: 'MotionDetected event' });
    const openedAt = performance.now();
    const recording = await hub.openRecording(connection);
    assert.deepEqual(recording.openStatus, { status: 0, reason: 0 });
    await mqtt.waitFor('cctv/rec/recording', (p) => (JSON.parse(p) as { status: string }).status === 'recording', 5000);
    await recording.waitForFragments(8, 30_000);
    const cpu = recordingCpu(hb, openedAt);
    const mqttFrom = mqtt.messages.length;
    recording.close(CloseReason.NORMAL);
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
    await hb.waitForLog(/Rec Cam: recording 1 ended/, 5000, from);
    const health = await mqtt.waitFor('cctv/rec/recording', (p) => (JSON.parse(p) as { status: string }).status === 'armed', 5000, mqttFrom);
    assert.deepEqual((({ clipsToday, lastCloseReason, mode }) => ({ clipsToday, lastCloseReason, mode }))(JSON.parse(health.payload) as Record<string, unknown>), { clipsToday: 1, lastCloseReason: 'hub-closed', mode: 'copy' });

    assert.deepEqual(recording.problems, []);
    const [init, ...fragments] = recording.packets;
    assert.ok(init && init.type === 'mediaInitialization' && init.sequence === 1);
    assert.ok(fragments.every((f) => f.type === 'mediaFragment'));
    const track = videoTrackId(init.data);
    for (const [i, f] of fragments.entries()) {
      const nals = firstVideoNalTypes(f.data, track);
      assert.ok(nals.includes(5) && !nals.includes(1), `fragment ${i + 1} starts with an IDR (NAL types ${nals.join(',')})`);
    }
    const first = fragments[0];
    assert.ok(first);
    const firstAfterMs = first.at - openedAt;
    const gaps = fragments.slice(1).map((f, i) => f.at - (fragments[i]?.at ?? f.at));
    // After the prebuffer burst, fragments come in real time: never later than fragment length + 1 s.
    const live = gaps.filter((g) => g > 300);
    assert.ok(firstAfterMs < 5000, `first fragment ${firstAfterMs.toFixed(0)} ms after open`);
    assert.ok(live.every((g) => g <= SELECTION.fragmentMs + 1000), `fragment gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);

    const clip = await probeClip(recording.joined(), motionAt);
    assert.equal(clip.decodeErrors, '', 'FFmpeg decodes the joined clip without errors');
    assert.ok(clip.videoDts.length >= 15 * fragments.length * 0.9, `${clip.videoDts.length} video packets`);
    assert.ok(clip.videoDts.every((d, i) => i === 0 || d > (clip.videoDts[i - 1] ?? -Infinity)), 'video timestamps rise across fragments');
    const video = clip.streams.find((s) => s.codec_type === 'video');
    const audio = clip.streams.find((s) => s.codec_type === 'audio');
    assert.equal(video?.codec_name, 'h264');
    assert.deepEqual([video?.width, video?.height], [SELECTION.width, SELECTION.height]);
    assert.equal(audio?.codec_name, 'aac');
    assert.equal(audio?.profile, 'LC');
    assert.equal(audio?.sample_rate, '32000');
    assert.ok(clip.firstStampMs !== undefined, 'the first picture carries a readable wall-clock stamp');
    const prebufferedMs = motionAt - clip.firstStampMs;
    console.log(`recording: init ${init.data.length} B, ${fragments.length} fragments (${fragments.map((f) => Math.round(f.data.length / 1024)).join('/')} KiB), first ${firstAfterMs.toFixed(0)} ms after open, gaps ${gaps.map((g) => g.toFixed(0)).join('/')} ms, first picture ${prebufferedMs} ms before the motion, ${video?.nb_read_frames} video frames, recording FFmpeg CPU ${cpu}`);
    assert.ok(Math.abs(prebufferedMs - SELECTION.prebufferMs) <= 1000, `first picture ${prebufferedMs} ms before the motion (prebuffer ${SELECTION.prebufferMs} ms)`);
    await connection.close();
  });

  it("a real hub's exact selection (1200x1600@24) transcodes: IDR-led fragments of at most 4 s at the selected size", async () => {
    await hub.arm(Buffer.from(REAL_HUB_SELECTION_B64, 'base64'), { audio: true });
    const from = hb.logs.length;
    const openedAt = performance.now();
    const { connection, recording } = await record(hub, 3);
    await hb.waitForLog(/Rec Cam: recording \d+ started \(transcode: the hub selected 1200x1600/, 1000, from);
    const cpu = recordingCpu(hb, openedAt);
    recording.close();
    await connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
    const [init, ...fragments] = recording.packets;
    assert.ok(init);
    const track = videoTrackId(init.data);
    for (const [i, f] of fragments.entries()) assert.ok(firstVideoNalTypes(f.data, track).includes(5), `fragment ${i + 1} starts with an IDR`);
    const clip = await probeClip(recording.joined(), Date.now());
    assert.equal(clip.decodeErrors, '');
    const video = clip.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual([video?.width, video?.height, video?.profile], [1200, 1600, 'Main']);
    assert.equal(clip.streams.find((s) => s.codec_type === 'audio')?.profile, 'LC');
    const keys = await keyframeTimes(recording.joined());
    const intervals = keys.slice(1).map((t, i) => t - (keys[i] ?? t));
    assert.ok(keys.length >= fragments.length, `${keys.length} keyframes for ${fragments.length} fragments`);
    assert.ok(intervals.every((d) => d <= REAL_HUB_SELECTION.fragmentMs / 1000 + 1 / REAL_HUB_SELECTION.fps + 0.01), `keyframe intervals ${intervals.map((d) => d.toFixed(2)).join('/')} s`);
    console.log(`transcode recording: ${fragments.length} fragments (${fragments.map((f) => Math.round(f.data.length / 1024)).join('/')} KiB), keyframe intervals ${intervals.map((d) => d.toFixed(2)).join('/')} s, recording FFmpeg CPU ${cpu}`);
    await hub.arm(SELECTION, { audio: true });
  });

  it('refusals: a second session while one records is BUSY; recording off or camera off is NOT_ALLOWED', async () => {
    const { connection, recording } = await record(hub, 1);
    assert.equal(await refusal(hub), CloseReason.BUSY);
    recording.close();
    await connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });

    await hub.write(hub.refs.active, 0);
    assert.equal(await refusal(hub), CloseReason.NOT_ALLOWED);
    await hub.write(hub.refs.active, 1);
    await hub.write(hub.refs.cameraActive, 0);
    assert.equal(await refusal(hub), CloseReason.NOT_ALLOWED);
    await hub.write(hub.refs.cameraActive, 1);
    assert.equal(recordingFfmpegs(hb), 0, 'refusals start no FFmpeg');
  });

  it('a dropped data stream connection ends the recording FFmpeg, and the next recording works', async () => {
    const dropped = await record(hub, 2);
    assert.equal(recordingFfmpegs(hb), 1);
    await dropped.connection.close('rst');
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit after the drop' });
    const next = await record(hub, 2);
    next.recording.close();
    await next.connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
  });

  it('an FFmpeg killed mid-recording ends the clip with an error close (not a stall), and the next recording works', async () => {
    const { connection, recording } = await record(hub, 2);
    const pid = hb.pid ? descendants(hb.pid).find((p) => p.comm === 'ffmpeg' && p.args.includes('frag_keyframe'))?.pid : undefined;
    assert.ok(pid, 'recording FFmpeg pid');
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const reason = await recording.waitForAccessoryClose(10_000);
    const closedAfterMs = performance.now() - killedAt;
    console.log(`killed recording FFmpeg: accessory closed with reason ${reason} after ${closedAfterMs.toFixed(0)} ms`);
    assert.equal(reason, CloseReason.UNEXPECTED_FAILURE);
    await connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'no recording FFmpeg left' });
    const next = await record(hub, 2);
    next.recording.close();
    await next.connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
  });

  it('a camera that dies mid-recording ends the clip with an error close, and recording works once it is back', async () => {
    const { connection, recording } = await record(hub, 2);
    const killedAt = performance.now();
    await camera.kill();
    const reason = await recording.waitForAccessoryClose(15_000);
    const closedAfterMs = performance.now() - killedAt;
    console.log(`camera killed: accessory closed with reason ${reason} after ${closedAfterMs.toFixed(0)} ms`);
    assert.equal(reason, CloseReason.UNEXPECTED_FAILURE);
    await connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'no recording FFmpeg left' });
    const mark = camera.mark();
    await camera.startAgain();
    // The armed prebuffer reconnects by itself (backoff ≤ 10 s); then give it a prebuffer's worth of feed.
    await waitFor(() => camera.requests('PLAY', mark) > 0, { timeoutMs: 20_000, what: 'the feed to reconnect' });
    await new Promise((r) => setTimeout(r, 5500));
    const next = await record(hub, 2);
    next.recording.close();
    await next.connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
  });

  it('a viewer watching live while a recording runs costs the camera one RTSP session', async () => {
    const sessionsBefore = camera.sessionsOpened();
    const { connection, recording } = await record(hub, 1);
    const stream = await client.startStream({ width: 640, height: 360, fps: 15, bitrateKbps: 800 });
    try {
      await stream.waitForFrames(15, 20_000);
      await recording.waitForFragments(recording.fragments.length + 2, 10_000);
    } finally {
      await stream.stop();
      recording.close();
      await connection.close();
    }
    // The feed was already held by the armed prebuffer: neither the clip nor the viewer reconnects.
    assert.equal(camera.sessionsOpened() - sessionsBefore, 0, 'no new camera session');
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
  });

  it('a Homebridge restart keeps the selected configuration and Active, leaves no FFmpeg, and recording works again', async () => {
    const selected = await hub.read(hub.refs.selected);
    const { connection } = await record(hub, 1);
    firstHb = hb;
    const pid = hb.pid;
    await hb.stop();
    await connection.close().catch(() => undefined);
    await hub.close();
    await client.close();
    assert.ok(pid !== undefined && descendants(pid).length === 0, 'no child of the old Homebridge survives');
    const from = 0;
    hb = await Homebridge.start({
      storageDir: firstHb.storageDir,
      platform: { sourceLingerSeconds: 2, cameras: CAMERAS(camera.url), mqtt: { url: broker.url, username: 'cctv', password: 'cctv-pass', topicPrefix: 'cctv' } },
    });
    client = HapCameraClient.connect({ port: await hb.accessoryPort('Rec Cam'), pairing: client.pairing });
    hub = await HdsHub.connect(client);
    // HAP-NodeJS replays the stored selection and Active to the delegate at start.
    await hb.waitForLog(/Rec Cam: recording armed by the home hub/, 10_000, from);
    assert.equal(await hub.read(hub.refs.selected), selected, 'selected configuration survived');
    assert.equal(Number(await hub.read(hub.refs.active)), 1, 'recording Active survived');
    await new Promise((r) => setTimeout(r, 5500));
    const next = await record(hub, 2);
    next.recording.close();
    await next.connection.close();
    await waitFor(() => recordingFfmpegs(hb) === 0, { timeoutMs: 5000, what: 'the recording FFmpeg to exit' });
  });
});
