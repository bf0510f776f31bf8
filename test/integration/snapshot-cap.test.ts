/**
 * Snapshot FFmpegs are capped per camera and in total. The Home app polls every camera tile at once
 * (and each device asks its own size): six cameras, two sizes each, all asked at the same moment
 * through real Homebridge and a HomeKit controller, never run more snapshot FFmpegs than the cap,
 * and every request still gets a JPEG. A request that cannot get a slot in time is answered from
 * cache, with one log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Log } from '../../src/logging.js';
import { defaultSnapshotLimits, SnapshotLimiter } from '../../src/snapshot/snapshot-limiter.js';
import { PlaceholderImages } from '../../src/snapshot/placeholder-images.js';
import { SnapshotService } from '../../src/snapshot/snapshot-service.js';
import { SharedSource } from '../../src/source/shared-source.js';
import { jpegInfo, looksLikeJpeg } from '../helpers/h264-decode.js';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { descendants } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

const CAMERAS = 6;

/** Snapshot FFmpegs (JPEG out; the offline placeholder is rendered once per size and not counted). */
function snapshotFfmpegs(pid: number | undefined): number {
  return pid ? descendants(pid).filter((p) => p.comm === 'ffmpeg' && p.args.includes('mjpeg') && !p.args.includes('lavfi')).length : 0;
}

describe('snapshot FFmpegs are capped per camera and in total', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const phones: HapCameraClient[] = [];
  const aids = new Map<string, number>();
  // Homebridge runs on this machine: the same cores, so the same default cap.
  const limits = defaultSnapshotLimits();

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 2 });
    const cameras = Array.from({ length: CAMERAS }, (_, i) => ({
      id: `cam${i}`, name: `Grid Cam ${i}`, source: camera.url, unbridge: false, video: { mode: 'copy' },
    }));
    hb = await Homebridge.start({ platform: { sourceLingerSeconds: 30, cameras } });
    client = await HapCameraClient.pair({ port: hb.bridgePort, pin: TEST_PIN });
    for (const acc of await client.accessories()) {
      const info = await client.findCamera(acc.aid).catch(() => undefined);
      if (info && info.streams.length > 0 && info.information.serialNumber) aids.set(info.information.serialNumber, acc.aid);
    }
    assert.equal(aids.size, CAMERAS);
  });

  after(async () => {
    for (const p of phones) await p.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await hb?.dispose();
    await camera?.stop();
  });

  /** Every camera, every size, all at once, each on its own controller connection (a Home app per tile). */
  async function burst(sizes: [number, number][]): Promise<{ maxConcurrent: number; ms: number[] }> {
    const requests = [...aids.values()].flatMap((aid) => sizes.map(([w, h]) => ({ aid, w, h })));
    while (phones.length < requests.length) phones.push(HapCameraClient.connect({ port: hb.bridgePort, pairing: client.pairing }));
    // Pair-verified before the burst, so the answer times are the plugin's, not the controllers' handshakes.
    for (const phone of phones) await phone.accessories();
    let maxConcurrent = 0;
    const sampler = setInterval(() => { maxConcurrent = Math.max(maxConcurrent, snapshotFfmpegs(hb.pid)); }, 10);
    try {
      const shots = await Promise.all(requests.map((r, i) => phones[i]!.snapshot(r.w, r.h, r.aid)));
      for (const [i, shot] of shots.entries()) {
        const r = requests[i]!;
        assert.ok(looksLikeJpeg(shot.jpeg), `aid ${r.aid} ${r.w}x${r.h}: a JPEG`);
        assert.equal((await jpegInfo(shot.jpeg)).codec, 'mjpeg');
      }
      return { maxConcurrent, ms: shots.map((s) => Math.round(s.ms)) };
    } finally {
      clearInterval(sampler);
    }
  }

  it(`${CAMERAS} cameras × 2 sizes at once, cold and then warm: never more than the cap, every request a JPEG`, async () => {
    const from = hb.logs.length;
    const cold = await burst([[640, 360], [320, 180]]);
    // Warm: every feed lingers now, the pictures are older than the 1 s reuse window (new sizes anyway).
    const warm = await burst([[480, 270], [1280, 720]]);
    const served = hb.logs.slice(from).filter((l) => /served from .*no snapshot FFmpeg free in time/.test(l));
    console.log(`cap ${limits.total} in total, ${limits.perCamera} per camera: cold burst peak ${cold.maxConcurrent} snapshot FFmpegs, `
      + `answers ${Math.min(...cold.ms)}–${Math.max(...cold.ms)} ms; warm burst peak ${warm.maxConcurrent}, answers ${Math.min(...warm.ms)}–${Math.max(...warm.ms)} ms; `
      + `${served.length} "served from cache" log lines`);
    for (const [what, b] of [['cold', cold], ['warm', warm]] as const) {
      assert.ok(b.maxConcurrent <= limits.total, `${what}: at most ${limits.total} snapshot FFmpegs at once, saw ${b.maxConcurrent}`);
      assert.ok(b.maxConcurrent >= 1, `${what}: the sampler saw the snapshot FFmpegs`);
    }
    assert.ok(!hb.logs.slice(from).some((l) => /snapshot handler .* (slow to respond|didn't respond)/.test(l)), 'HAP-NodeJS never found a snapshot handler slow');
  });
});

describe('a snapshot that cannot get an FFmpeg slot in time', () => {
  let camera: RtspCamera;
  let source: SharedSource;
  let service: SnapshotService;
  const lines: string[] = [];
  const log: Log = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: () => undefined };
  const limiter = new SnapshotLimiter({ perCamera: 1, total: 1 });

  before(async () => {
    camera = await RtspCamera.start({ width: 320, height: 180, fps: 15, gopSeconds: 1 });
    source = new SharedSource({ ffmpegPath: 'ffmpeg', args: { input: { url: camera.url, transport: 'tcp', timeoutSeconds: 4 }, audio: false }, lingerMs: 10_000, log, redact: (t) => t });
    service = new SnapshotService({
      ffmpegPath: 'ffmpeg', source, rtspTransport: 'tcp', log, redact: (t) => t, freshMs: 0, budgetMs: 3000, slots: limiter.forCamera('c'),
    });
  });

  after(async () => {
    service?.close();
    await source?.close();
    await camera?.stop();
  });

  it('is answered from the last picture (or the placeholder) at its deadline, logged once per window', async () => {
    // Another camera's snapshot holds the platform's only slot.
    const busy = await limiter.acquire('other', performance.now() + 60_000);
    assert.ok(busy);
    const first = await service.get(320, 180);
    assert.equal(first.origin, 'placeholder', 'nothing cached yet: the placeholder');
    assert.ok(looksLikeJpeg(first.jpeg));
    assert.equal(lines.filter((l) => /served from a placeholder: no snapshot FFmpeg free in time/.test(l)).length, 1, lines.join('\n'));
    busy.release();
    const live = await service.get(320, 180);
    assert.equal(live.origin, 'live');
    const again = await limiter.acquire('other', performance.now() + 60_000);
    assert.ok(again);
    const stale = await service.get(640, 360);
    assert.equal(stale.origin, 'stale', 'the last good picture, of another size');
    assert.deepEqual(stale.jpeg, live.jpeg);
    assert.equal(lines.filter((l) => /served from/.test(l)).length, 1, 'the second refusal within a minute is not logged again');
    again.release();
    assert.equal(limiter.active, 0);
  });
});

describe('the shared placeholder', () => {
  it('is rendered by one FFmpeg for concurrent askers, then served at once for any size', async () => {
    const placeholders = new PlaceholderImages('ffmpeg');
    assert.equal(placeholders.warm, false);
    const before = ffmpegChildren();
    const [a, b, c] = await Promise.all([placeholders.get(320, 180), placeholders.get(320, 180), placeholders.get(1280, 720)]);
    assert.ok(looksLikeJpeg(a));
    assert.ok(a === b && b === c, 'one render shared by three concurrent requests of two sizes');
    assert.deepEqual(await jpegInfo(a).then((i) => [i.width, i.height]), [320, 180]);
    assert.equal(placeholders.warm, true);
    const later = placeholders.get(1920, 1080);
    assert.equal(ffmpegChildren(), before, 'a size never rendered is served from the one already there, no FFmpeg');
    assert.equal(await later, a);
  });
});

function ffmpegChildren(): number {
  return descendants(process.pid).filter((p) => p.comm === 'ffmpeg').length;
}
