/**
 * The idle-stop race on the real shared feed (real FFmpeg, the fixture camera): a hold that arrives
 * while the lingering feed's FFmpeg is being stopped must get a fresh feed, never the dying one's
 * pictures, and must not be ended by the dying one's exit. First on the source itself (the hold
 * issued synchronously after the stop; the old FFmpeg frozen so its exit is slow), then end to end:
 * a Home app viewer that opens while the lingering feed is being stopped.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Log } from '../../src/logging.js';
import { MpegTsIndexer } from '../../src/source/mpegts-indexer.js';
import { SharedSource, type SourceEvent } from '../../src/source/shared-source.js';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { Homebridge, TEST_PIN } from '../helpers/homebridge.js';
import { feedFfmpegs } from '../helpers/fault-tools.js';
import { descendants, isAlive } from '../helpers/processes.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { delay, waitFor } from '../helpers/wait.js';

const log: Log = { info: () => undefined, warn: () => undefined, error: (m) => console.error(m), debug: () => undefined };

/** A viewer's stdin stand-in: keeps what it was written, and where each feed generation began. */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  /** Whether the bytes from chunk `from` on hold PAT, PMT and a keyframe a decoder can start on. */
  keyframeSince(from: number): boolean {
    const kinds = new MpegTsIndexer().push(Buffer.concat(this.chunks.slice(from))).kinds;
    const key = kinds.indexOf('keyframe-start');
    return key > 0 && kinds.slice(0, key).includes('pat') && kinds.slice(0, key).includes('pmt');
  }
}

function feedPids(url: string): number[] {
  return descendants(process.pid).filter((p) => p.comm === 'ffmpeg' && p.args.includes(url)).map((p) => p.pid);
}

describe('idle stop racing a new hold', () => {
  let camera: RtspCamera;

  before(async () => {
    camera = await RtspCamera.start({ width: 320, height: 180, fps: 15, gopSeconds: 1 });
  });

  after(async () => {
    await camera?.stop();
  });

  /** A source that stops at once on the last release (linger 0), with its events and starts recorded. */
  function makeSource(onStart?: (generation: number) => void): { source: SharedSource; events: SourceEvent[]; startedAtChunk: Map<number, number>; sink: Collector } {
    const events: SourceEvent[] = [];
    const sink = new Collector();
    const startedAtChunk = new Map<number, number>();
    const source = new SharedSource({
      ffmpegPath: 'ffmpeg', args: { input: { url: camera.url, transport: 'tcp', timeoutSeconds: 4 }, audio: false },
      lingerMs: 0, log, redact: (t) => t,
      onEvent: (event) => {
        events.push(event);
        if (event.type !== 'starting') return;
        startedAtChunk.set(event.generation, sink.chunks.length);
        onStart?.(event.generation);
      },
    });
    return { source, events, startedAtChunk, sink };
  }

  async function joinedFeed(source: SharedSource, sink: Collector, startedAtChunk: Map<number, number>, ended: () => string | undefined): Promise<void> {
    await waitFor(() => ended() !== undefined || (startedAtChunk.has(2) && sink.keyframeSince(startedAtChunk.get(2) ?? 0)),
      { timeoutMs: 20_000, what: 'a keyframe from the new feed (or the joiner ended)' });
    assert.equal(ended(), undefined, `the joiner was ended by the old feed's exit: ${ended() ?? ''}`);
    assert.ok(sink.keyframeSince(startedAtChunk.get(2) ?? 0), 'the joiner got PAT, PMT and a keyframe from the new feed');
    // The old feed's exit is long past: the joiner is still fed, and still not ended.
    const chunks = sink.chunks.length;
    await waitFor(() => sink.chunks.length > chunks + 5, { timeoutMs: 10_000, what: 'more data for the joiner' });
    assert.equal(ended(), undefined);
    assert.equal(source.holders, 1);
  }

  it('a hold issued right after the idle stop gets a fresh feed and is not ended by the old exit', async () => {
    const { source, events, startedAtChunk, sink } = makeSource();
    try {
      const first = source.hold();
      await source.waitForGop(20_000);
      const mark = camera.mark();
      first.release(); // linger 0: the idle stop is issued now
      const stopping = source.stopping;
      const gopWhileStopping = source.currentGop();
      let ended: string | undefined;
      const joiner = source.attach('joiner', sink, (message) => { ended = message; });
      // The behaviour first (what a viewer sees), then the state that explains it.
      await joinedFeed(source, sink, startedAtChunk, () => ended);
      assert.equal(joiner.startedFrom, undefined, 'the joiner did not start from the dying feed');
      assert.equal(stopping, true, 'the source was marked stopping while the old FFmpeg died');
      assert.equal(gopWhileStopping, undefined, "the dying feed's GOP went with its stop");
      assert.equal(source.sessionsOpened, 2);
      assert.equal(camera.requests('PLAY', mark), 1, 'one new camera session for the joiner');
      assert.deepEqual(events.filter((e) => e.type === 'ended').map((e) => e.type === 'ended' && e.reason), ['idle']);
      joiner.release();
    } finally {
      await source.close();
    }
    assert.deepEqual(feedPids(camera.url), [], 'no feed FFmpeg left');
  });

  it('a hold and a snapshot wait during a slow stop (the old FFmpeg frozen) get the next feed, started after the old one is gone', async () => {
    let oldPid: number | undefined;
    let oldAliveAtNextStart: boolean | undefined;
    const { source, startedAtChunk, sink } = makeSource((generation) => {
      if (generation === 2 && oldPid !== undefined) oldAliveAtNextStart = isAlive(oldPid);
    });
    try {
      const first = source.hold();
      await source.waitForGop(20_000);
      oldPid = feedPids(camera.url)[0];
      assert.ok(oldPid !== undefined);
      // Frozen, it cannot act on SIGTERM: the stop stays in flight until FfmpegProcess SIGKILLs it.
      process.kill(oldPid, 'SIGSTOP');
      const stoppedAt = performance.now();
      first.release();
      await delay(500);
      assert.ok(isAlive(oldPid), 'the stop is still in flight');
      let ended: string | undefined;
      const joiner = source.attach('joiner', sink, (message) => { ended = message; });
      const snapshotHold = source.hold();
      const gop = source.waitForGop(20_000);
      await waitFor(() => startedAtChunk.has(2), { timeoutMs: 10_000, what: 'the next feed to start' });
      assert.equal(oldAliveAtNextStart, false, 'the next feed started only once the old FFmpeg was gone (one camera session at a time)');
      const snapshot = await gop;
      assert.ok(snapshot.keyframeAt > stoppedAt, 'the snapshot wait got a GOP of the new feed, not the frozen one');
      snapshotHold.release();
      await joinedFeed(source, sink, startedAtChunk, () => ended);
      assert.equal(joiner.startedFrom, undefined, 'the joiner did not start from the frozen feed');
      joiner.release();
    } finally {
      await source.close();
    }
    assert.deepEqual(feedPids(camera.url), [], 'no feed FFmpeg left');
  });
});

describe('idle stop racing a new viewer, through Homebridge', () => {
  let camera: RtspCamera;
  let hb: Homebridge;
  let client: HapCameraClient;
  const view = { width: 640, height: 360, fps: 15, bitrateKbps: 800 };

  before(async () => {
    camera = await RtspCamera.start({ width: 640, height: 360, fps: 15, gopSeconds: 1 });
    hb = await Homebridge.start({
      platform: { sourceLingerSeconds: 1, debug: true, cameras: [{ id: 'race', name: 'Race Cam', source: camera.url, video: { mode: 'copy' } }] },
    });
    client = await HapCameraClient.pair({ port: await hb.accessoryPort('Race Cam'), pin: TEST_PIN });
  });

  after(async () => {
    await client?.close();
    await hb?.dispose();
    await camera?.stop();
  });

  it('a viewer that opens while the lingering feed is being stopped gets the next feed, with no drop', async () => {
    const first = await client.startStream(view);
    await first.waitForFrames(5, 20_000);
    const oldPid = feedFfmpegs(hb.pid)[0]?.pid;
    assert.ok(oldPid !== undefined);
    const from = hb.logs.length;
    await first.stop();
    // Frozen before the 1 s linger runs out: its idle stop stays in flight until the 2 s SIGKILL bound.
    process.kill(oldPid, 'SIGSTOP');
    await first.dispose();
    await hb.waitForLog(/camera feed stopping \(idle\)/, 10_000, from);
    const aliveAtSetup = isAlive(oldPid);
    const second = await client.startStream(view);
    try {
      assert.ok(aliveAtSetup, 'the new viewer was set up while the old feed FFmpeg was still dying');
      await waitFor(() => !isAlive(oldPid), { timeoutMs: 10_000, what: 'the old feed FFmpeg to be gone' });
      const packetsAtOldExit = second.video.packets;
      await waitFor(() => second.video.packets > packetsAtOldExit + 100, { timeoutMs: 20_000, what: `video after the old feed's exit (${JSON.stringify(second.stats())})` });
      const decoded = await second.waitForFrames(30, 20_000);
      assert.deepEqual([decoded.width, decoded.height], [640, 360]);
      const since = hb.logs.slice(from);
      assert.ok(!since.some((l) => /camera feed lost/.test(l)), `the viewer never saw the old feed end under it:\n${since.filter((l) => /Race Cam/.test(l) && !/ffmpeg:/.test(l)).join('\n')}`);
      assert.equal(feedFfmpegs(hb.pid).length, 1, 'one feed FFmpeg: the new one');
      await second.stop();
    } finally {
      await second.dispose();
    }
  });
});
