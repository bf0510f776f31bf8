import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../../src/source/backoff.js';
import { FeedConsumer } from '../../src/source/feed-consumer.js';
import { GopCache } from '../../src/source/gop-cache.js';
import { MpegTsIndexer, TS_PACKET, type IndexedChunk, type TsPacketKind } from '../../src/source/mpegts-indexer.js';
import { seededRandom } from '../helpers/seeded-random.js';

// ---------------------------------------------------------------------------------------------
// Real bytes: MPEG-TS from FFmpeg, keyframe every 10 frames, no B-frames.

function ffmpegTs(extra: string[], seconds: number): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', ...extra,
    '-t', String(seconds), '-c:v', 'libx264', '-g', '10', '-bf', '0', '-f', 'mpegts', '-',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

interface Probe {
  videoPid: number;
  audioPid: number | undefined;
  frames: number;
  keyframes: number;
}

function probe(ts: Buffer): Probe {
  const out = JSON.parse(execFileSync('ffprobe', [
    '-v', 'error', '-show_entries', 'stream=id,codec_type:packet=stream_index,flags', '-of', 'json', '-i', 'pipe:0',
  ], { input: ts, maxBuffer: 64 * 1024 * 1024 }).toString()) as {
    streams: Array<{ id: string; codec_type: string }>;
    packets: Array<{ stream_index: number; flags: string }>;
  };
  const videoIndex = out.streams.findIndex((s) => s.codec_type === 'video');
  const audio = out.streams.find((s) => s.codec_type === 'audio');
  const video = out.packets.filter((p) => p.stream_index === videoIndex);
  return {
    videoPid: Number(out.streams[videoIndex]?.id),
    audioPid: audio ? Number(audio.id) : undefined,
    frames: video.length,
    keyframes: video.filter((p) => p.flags.startsWith('K')).length,
  };
}

/** Frames FFmpeg actually decodes from a TS (the video stream). */
function decodedFrames(ts: Buffer): number {
  const out = JSON.parse(execFileSync('ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'json', '-i', 'pipe:0',
  ], { input: ts }).toString()) as { streams: Array<{ nb_read_frames?: string }> };
  return Number(out.streams[0]?.nb_read_frames);
}

/** Deterministic chunk sizes. */
const rng = seededRandom;

/** Random 1..max byte pieces (views, like stdout chunks), including splits inside packets. */
function randomChunks(buf: Buffer, seed: number, max = 5000): Buffer[] {
  const random = rng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length;) {
    const size = 1 + Math.floor(random() * max);
    out.push(buf.subarray(i, i + size));
    i += size;
  }
  return out;
}

interface RawPacket { pid: number; pusi: boolean; rai: boolean }

function parsePacket(p: Buffer): RawPacket {
  assert.equal(p[0], 0x47, 'sync byte');
  const b1 = p[1] ?? 0;
  const afc = ((p[3] ?? 0) >> 4) & 3;
  return {
    pid: ((b1 & 0x1f) << 8) | (p[2] ?? 0),
    pusi: (b1 & 0x40) !== 0,
    rai: (afc & 2) !== 0 && (p[4] ?? 0) > 0 && ((p[5] ?? 0) & 0x40) !== 0,
  };
}

const packetAt = (buf: Buffer, index: number): RawPacket => parsePacket(buf.subarray(index * TS_PACKET, (index + 1) * TS_PACKET));

/** The whole TS indexed in one push: the reference every chunked run must agree with. */
function referenceKinds(ts: Buffer): { kinds: TsPacketKind[]; indexer: MpegTsIndexer } {
  const indexer = new MpegTsIndexer();
  return { kinds: indexer.push(ts).kinds, indexer };
}

const TS = ffmpegTs([], 3);
const TS_PROBE = probe(TS);
const REF = referenceKinds(TS);
const PMT_PID = REF.kinds.flatMap((k, i) => (k === 'pmt' ? [packetAt(TS, i).pid] : []))[0] ?? -1;

describe('MpegTsIndexer on FFmpeg output', () => {
  it('the generated TS is what the tests assume', () => {
    assert.equal(TS.length % TS_PACKET, 0);
    assert.equal(TS_PROBE.frames, 30);
    assert.ok(TS_PROBE.keyframes >= 3, `keyframes ${TS_PROBE.keyframes}`);
  });

  for (const seed of [1, 2, 3, 42, 1234]) {
    it(`random chunks (seed ${seed}): PIDs, keyframes and frame starts match ffprobe`, () => {
      const indexer = new MpegTsIndexer();
      const kinds: TsPacketKind[] = [];
      const data: Buffer[] = [];
      for (const chunk of randomChunks(TS, seed)) {
        const indexed = indexer.push(chunk);
        assert.equal(indexed.data.length % TS_PACKET, 0, 'whole packets only');
        assert.equal(indexed.kinds.length, indexed.data.length / TS_PACKET);
        kinds.push(...indexed.kinds);
        data.push(indexed.data);
      }
      assert.deepEqual(Buffer.concat(data), TS, 'every byte passes through, in order');
      assert.equal(indexer.videoPid, TS_PROBE.videoPid);
      assert.equal(indexer.videoStreamType, 0x1b);
      assert.equal(indexer.audioPid, undefined);
      assert.equal(kinds.filter((k) => k === 'keyframe-start').length, TS_PROBE.keyframes);
      assert.equal(kinds.filter((k) => k === 'keyframe-start' || k === 'frame-start').length, TS_PROBE.frames);
      assert.ok(kinds.includes('pat') && kinds.includes('pmt'));
      assert.deepEqual(kinds, REF.kinds, 'same classification as one big push');
    });
  }

  it('packet kinds agree with the raw header bits', () => {
    REF.kinds.forEach((kind, i) => {
      const p = packetAt(TS, i);
      if (kind === 'pat') assert.equal(p.pid, 0);
      if (kind === 'keyframe-start') assert.deepEqual(p, { pid: TS_PROBE.videoPid, pusi: true, rai: true });
      if (kind === 'frame-start') assert.deepEqual(p, { pid: TS_PROBE.videoPid, pusi: true, rai: false });
    });
  });

  it('byte-at-a-time feeding gives the same result', () => {
    const indexer = new MpegTsIndexer();
    const kinds: TsPacketKind[] = [];
    for (let i = 0; i < 20 * TS_PACKET; i++) kinds.push(...indexer.push(TS.subarray(i, i + 1)).kinds);
    assert.deepEqual(kinds, REF.kinds.slice(0, 20));
  });

  it('resynchronises on the sync byte after leading garbage', () => {
    const indexer = new MpegTsIndexer();
    const first = indexer.push(Buffer.concat([Buffer.from([1, 2, 3, 0, 0xff]), TS]));
    assert.deepEqual(first.data, TS);
    assert.deepEqual(first.kinds, REF.kinds);
  });

  it('finds the audio PID when the feed has AAC', () => {
    const withAudio = ffmpegTs(['-f', 'lavfi', '-i', 'sine=frequency=440', '-c:a', 'aac', '-shortest'], 1);
    const p = probe(withAudio);
    const indexer = new MpegTsIndexer();
    for (const chunk of randomChunks(withAudio, 7)) indexer.push(chunk);
    assert.equal(indexer.videoPid, p.videoPid);
    assert.equal(indexer.audioPid, p.audioPid);
    assert.notEqual(indexer.audioPid, indexer.videoPid);
  });

  it('nothing is classified as video before the PMT has been seen', () => {
    const indexer = new MpegTsIndexer();
    const firstVideo = REF.kinds.findIndex((k) => k === 'keyframe-start');
    const videoPacket = TS.subarray(firstVideo * TS_PACKET, (firstVideo + 1) * TS_PACKET);
    assert.deepEqual(indexer.push(videoPacket).kinds, ['other']);
  });
});

describe('GopCache on FFmpeg output', () => {
  /** Frames since (and including) the newest keyframe among the first `packets` packets. */
  function framesSinceKeyframe(packets: number): number {
    let frames = 0;
    for (let i = 0; i < packets; i++) {
      if (REF.kinds[i] === 'keyframe-start') frames = 1;
      else if (REF.kinds[i] === 'frame-start' && frames > 0) frames++;
    }
    return frames;
  }

  for (const seed of [5, 6, 7]) {
    it(`after every random chunk (seed ${seed}) the snapshot is PAT, PMT, keyframe… with the right frame count`, () => {
      const indexer = new MpegTsIndexer();
      const cache = new GopCache();
      let packets = 0;
      let snapshots = 0;
      for (const chunk of randomChunks(TS, seed)) {
        const indexed = indexer.push(chunk);
        cache.add(indexed, packets);
        packets += indexed.kinds.length;
        const gop = cache.snapshot();
        const expected = framesSinceKeyframe(packets);
        if (expected === 0) {
          assert.equal(gop, undefined, 'no snapshot before the first keyframe');
          assert.equal(cache.hasKeyframe, false);
          continue;
        }
        assert.ok(gop, 'a snapshot once a keyframe was seen');
        snapshots++;
        assert.equal(gop.data.length % TS_PACKET, 0);
        assert.equal(packetAt(gop.data, 0).pid, 0, 'PAT first');
        assert.equal(packetAt(gop.data, 1).pid, PMT_PID, 'then the PMT');
        assert.deepEqual(packetAt(gop.data, 2), { pid: TS_PROBE.videoPid, pusi: true, rai: true }, 'then the keyframe packet');
        assert.equal(gop.frames, expected);
        assert.deepEqual(gop.data.subarray(0, 2 * TS_PACKET), cache.headers());
        // The snapshot ends exactly where the feed is now.
        assert.deepEqual(gop.data.subarray(-TS_PACKET), TS.subarray((packets - 1) * TS_PACKET, packets * TS_PACKET));
      }
      assert.ok(snapshots > 0);
    });
  }

  // Cut the feed right before frame N starts, so the snapshot holds whole frames only; FFmpeg must
  // decode exactly `frames` pictures from it (first frame, mid-GOP, last of a GOP, next GOP, the end).
  const starts = REF.kinds.flatMap((k, i) => (k === 'keyframe-start' || k === 'frame-start' ? [i] : []));
  const cuts = [1, 2, 5, 10, 11, 17, 20, 29].map((n) => starts[n] ?? REF.kinds.length).concat([REF.kinds.length]);
  for (const cut of cuts) {
    it(`a snapshot cut at packet ${cut} decodes to exactly gop.frames frames`, () => {
      const indexer = new MpegTsIndexer();
      const cache = new GopCache();
      for (const chunk of randomChunks(TS.subarray(0, cut * TS_PACKET), cut)) cache.add(indexer.push(chunk), 0);
      const gop = cache.snapshot();
      assert.ok(gop);
      assert.equal(gop.frames, framesSinceKeyframe(cut));
      assert.equal(decodedFrames(gop.data), gop.frames);
    });
  }

  for (const maxBytes of [1000, 5000, 9000]) {
    it(`maxBytes ${maxBytes}: a GOP is cached only while it fits, and stays dropped until the next keyframe (real data)`, () => {
      const indexer = new MpegTsIndexer();
      const cache = new GopCache(maxBytes);
      let packets = 0;
      let lastKey = -1;
      let overflows = 0;
      for (const chunk of randomChunks(TS, maxBytes)) {
        const indexed = indexer.push(chunk);
        cache.add(indexed, 0);
        indexed.kinds.forEach((k, i) => { if (k === 'keyframe-start') lastKey = packets + i; });
        packets += indexed.kinds.length;
        const gopBytes = lastKey < 0 ? 0 : (packets - lastKey) * TS_PACKET;
        const gop = cache.snapshot();
        if (lastKey >= 0 && gopBytes <= maxBytes) {
          assert.ok(gop, `${gopBytes} bytes fit in ${maxBytes}`);
          assert.equal(gop.data.length, 2 * TS_PACKET + gopBytes);
        } else {
          assert.equal(gop, undefined, `${gopBytes} bytes since the keyframe`);
          assert.equal(cache.hasKeyframe, false);
          if (lastKey >= 0) overflows++;
        }
      }
      assert.ok(overflows > 0, 'the bound was hit');
      assert.ok(cache.headers(), 'PAT/PMT are still known');
    });
  }

  it('records when the keyframe arrived', () => {
    const indexer = new MpegTsIndexer();
    const cache = new GopCache();
    const keyPackets = REF.kinds.flatMap((k, i) => (k === 'keyframe-start' ? [i] : []));
    const second = keyPackets[1] ?? 0;
    cache.add(indexer.push(TS.subarray(0, second * TS_PACKET)), 100);
    assert.equal(cache.snapshot()?.keyframeAt, 100);
    cache.add(indexer.push(TS.subarray(second * TS_PACKET, (second + 3) * TS_PACKET)), 250);
    assert.equal(cache.snapshot()?.keyframeAt, 250);
    assert.equal(cache.snapshot()?.frames, 1);
  });
});

describe('GopCache logic (synthetic packets)', () => {
  /** Fake packets whose first byte is the sync byte and second byte a tag, so order can be checked. */
  let tag = 0;
  const chunk = (...kinds: TsPacketKind[]): IndexedChunk => ({
    data: Buffer.concat(kinds.map(() => {
      const p = Buffer.alloc(TS_PACKET, 0);
      p[0] = 0x47;
      p[1] = ++tag;
      return p;
    })),
    kinds,
  });
  const tags = (buf: Buffer | undefined): number[] => {
    const out: number[] = [];
    for (let i = 0; buf && i < buf.length; i += TS_PACKET) out.push(buf[i + 1] ?? -1);
    return out;
  };

  it('table: snapshot and overflow through a sequence of chunks', () => {
    tag = 0;
    const cache = new GopCache(4 * TS_PACKET);
    // Packet tags are numbered 1, 2, 3… in the order they are added.
    const steps: Array<{ add: TsPacketKind[]; tags: number[] | undefined; frames?: number }> = [
      { add: ['pat', 'pmt'], tags: undefined }, // 1, 2: no keyframe yet
      { add: ['frame-start', 'other'], tags: undefined }, // 3, 4: frames before the first keyframe are useless
      { add: ['other', 'keyframe-start', 'other'], tags: [1, 2, 6, 7], frames: 1 }, // 5, 6, 7
      { add: ['frame-start'], tags: [1, 2, 6, 7, 8], frames: 2 }, // 8
      { add: ['other', 'other'], tags: undefined }, // 9, 10: five packets > four: the GOP is dropped
      { add: ['frame-start'], tags: undefined }, // 11: stays dropped until the next keyframe
      { add: ['frame-start', 'keyframe-start', 'frame-start'], tags: [1, 2, 13, 14], frames: 2 }, // 12, 13, 14
      { add: ['pat', 'pmt'], tags: [15, 16, 13, 14, 15, 16], frames: 2 }, // 15, 16: newest PAT/PMT lead
    ];
    for (const step of steps) {
      cache.add(chunk(...step.add), 0);
      const gop = cache.snapshot();
      assert.deepEqual(gop ? tags(gop.data) : undefined, step.tags, JSON.stringify(step.add));
      assert.equal(cache.hasKeyframe, step.tags !== undefined);
      if (step.frames !== undefined) assert.equal(gop?.frames, step.frames);
    }
  });

  it('the last keyframe in a chunk wins', () => {
    tag = 0;
    const cache = new GopCache();
    cache.add(chunk('pat', 'pmt', 'keyframe-start', 'frame-start', 'keyframe-start', 'other', 'frame-start'), 0);
    assert.deepEqual(tags(cache.snapshot()?.data), [1, 2, 5, 6, 7]);
    assert.equal(cache.snapshot()?.frames, 2);
  });

  it('headers need both PAT and PMT; clear() forgets the GOP but not the headers', () => {
    tag = 0;
    const cache = new GopCache();
    cache.add(chunk('pat'), 0);
    assert.equal(cache.headers(), undefined);
    cache.add(chunk('pmt', 'keyframe-start'), 0);
    assert.deepEqual(tags(cache.headers()), [1, 2]);
    assert.ok(cache.snapshot());
    cache.clear();
    assert.equal(cache.snapshot(), undefined);
    assert.equal(cache.hasKeyframe, false);
    assert.deepEqual(tags(cache.headers()), [1, 2]);
  });

  it('a keyframe without PAT/PMT gives no snapshot', () => {
    const cache = new GopCache();
    cache.add(chunk('keyframe-start', 'frame-start'), 0);
    assert.equal(cache.hasKeyframe, true);
    assert.equal(cache.snapshot(), undefined);
  });
});

describe('FeedConsumer', () => {
  /** A writable whose writes complete only when `release()` is called: a viewer FFmpeg that stalls. */
  class StalledSink extends Writable {
    readonly received: Buffer[] = [];
    private readonly pending: Array<() => void> = [];
    override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
      this.received.push(chunk);
      this.pending.push(() => callback());
    }
    release(): void {
      while (this.pending.length) this.pending.shift()?.();
    }
  }

  interface Run { output: Buffer; resumes: number[]; drops: number; pushes: number }

  /**
   * Pushes the real TS through a consumer in random chunks, releasing the sink every `releaseEvery`
   * pushes; checks the bound at every step and returns where (byte offsets in the output) each
   * resume-after-waiting started.
   */
  function run(max: number, releaseEvery: number, seed: number, feed: Buffer = TS): Run {
    const indexer = new MpegTsIndexer();
    const cache = new GopCache();
    const sink = new StalledSink();
    const consumer = new FeedConsumer('viewer', sink, () => cache.headers(), max);
    consumer.begin(undefined);
    let waiting = true;
    let offset = 0;
    let drops = 0;
    let pushes = 0;
    const resumes: number[] = [];
    for (const piece of randomChunks(feed, seed, 3000)) {
      const indexed = indexer.push(piece);
      cache.add(indexed, 0);
      const backlog = sink.writableLength;
      const delivered = consumer.deliveredBytes;
      const dropped = consumer.droppedBytes;
      // The rule under test: a reader whose backlog exceeds the bound falls back to waiting.
      if (!waiting && backlog > max) {
        waiting = true;
        drops++;
      }
      consumer.push(indexed);
      pushes++;
      const dd = consumer.deliveredBytes - delivered;
      const dx = consumer.droppedBytes - dropped;
      if (waiting) {
        if (dd > 0) {
          assert.equal(dx, 0, 'a chunk is either dropped or delivered');
          assert.ok(backlog <= max / 2, `resumed into a backlog of ${backlog}`);
          assert.ok(indexed.kinds.includes('keyframe-start'), 'resumes only on a chunk with a keyframe');
          resumes.push(offset);
          waiting = false;
          offset += dd;
        } else {
          assert.equal(dx, indexed.data.length, 'while waiting, the whole chunk is dropped');
        }
      } else {
        assert.equal(dx, 0, `dropped while the backlog ${backlog} was within ${max}`);
        assert.equal(dd, indexed.data.length, 'while flowing, whole chunks pass');
        offset += dd;
      }
      if (pushes % releaseEvery === 0) sink.release();
    }
    sink.release();
    const output = Buffer.concat(sink.received);
    assert.equal(output.length, consumer.deliveredBytes);
    return { output, resumes, drops, pushes };
  }

  function assertResumesAtKeyframes(r: Run, pmtPid: number): void {
    for (const at of r.resumes) {
      assert.equal(at % TS_PACKET, 0);
      const first = at / TS_PACKET;
      assert.equal(packetAt(r.output, first).pid, 0, 'PAT');
      assert.equal(packetAt(r.output, first + 1).pid, pmtPid, 'PMT');
      assert.deepEqual(packetAt(r.output, first + 2), { pid: TS_PROBE.videoPid, pusi: true, rai: true }, 'keyframe packet');
    }
  }

  const longTs = Buffer.concat([TS, TS, TS]);

  const cases: Array<{ max: number; releaseEvery: number; seed: number; expectDrops: boolean }> = [
    { max: 64 * 1024 * 1024, releaseEvery: 1, seed: 1, expectDrops: false }, // fast reader
    { max: 8000, releaseEvery: 1_000_000, seed: 2, expectDrops: true }, // reader never catches up
    { max: 8000, releaseEvery: 6, seed: 3, expectDrops: true }, // slow reader: drop, recover, drop…
    { max: 20_000, releaseEvery: 30, seed: 4, expectDrops: true },
  ];
  for (const c of cases) {
    it(`max ${c.max}, sink drained every ${c.releaseEvery} pushes`, () => {
      const r = run(c.max, c.releaseEvery, c.seed, longTs);
      assert.ok(r.resumes.length >= 1);
      assert.equal(r.resumes[0], 0, 'a cold start waits for the first keyframe');
      assertResumesAtKeyframes(r, PMT_PID);
      if (c.expectDrops) {
        assert.ok(r.drops >= 1, 'fell behind at least once');
        // Every fall-behind is followed by a resume, unless the feed ended while still waiting.
        assert.ok(r.resumes.length === r.drops + 1 || r.resumes.length === r.drops, `${r.resumes.length} resumes, ${r.drops} drops`);
      } else {
        assert.equal(r.drops, 0);
        assert.equal(r.resumes.length, 1);
        // Flowing from the first keyframe on: PAT + PMT, then the feed from its first keyframe to its end.
        const firstKey = REF.kinds.indexOf('keyframe-start');
        assert.deepEqual(r.output.subarray(2 * TS_PACKET), longTs.subarray(firstKey * TS_PACKET));
      }
    });
  }

  it('a slow reader recovers and is dropping again later (several cycles)', () => {
    const r = run(8000, 6, 3, longTs);
    assert.ok(r.drops >= 2, `drops ${r.drops}`);
    assert.ok(r.resumes.length >= 2, `resumes ${r.resumes.length}`);
  });

  it('starts from a cached GOP without waiting', () => {
    const sink = new StalledSink();
    const gop = Buffer.from(TS.subarray(0, 4 * TS_PACKET));
    const consumer = new FeedConsumer('v', sink, () => undefined, 1 << 20);
    consumer.begin(gop);
    const next = TS.subarray(4 * TS_PACKET, 5 * TS_PACKET);
    consumer.push({ data: next, kinds: ['other'] });
    sink.release();
    assert.deepEqual(Buffer.concat(sink.received), TS.subarray(0, 5 * TS_PACKET));
    assert.equal(consumer.droppedBytes, 0);
  });

  it('a real PassThrough nobody reads: drops, then resumes at a keyframe once read', async () => {
    const pt = new PassThrough({ highWaterMark: 16 * 1024 }); // Node 22+ defaults to 64 KiB
    const indexer = new MpegTsIndexer();
    const cache = new GopCache();
    const consumer = new FeedConsumer('v', pt, () => cache.headers(), 4096);
    consumer.begin(undefined);
    const pieces = randomChunks(longTs, 11, 2000);
    const half = Math.floor(pieces.length / 2);
    for (const piece of pieces.slice(0, half)) {
      const indexed = indexer.push(piece);
      cache.add(indexed, 0);
      consumer.push(indexed);
    }
    assert.ok(consumer.droppedBytes > 0, 'an unread PassThrough backs up and the consumer drops');
    assert.ok(pt.writableLength > 4096 / 2);
    // Read everything buffered so far; from here the reader keeps up.
    const read: Buffer[] = [];
    pt.on('data', (b: Buffer) => read.push(b));
    await new Promise((resolve) => setImmediate(resolve));
    const before = Buffer.concat(read).length;
    const droppedBefore = consumer.droppedBytes;
    let resumedAt = -1;
    for (const piece of pieces.slice(half)) {
      const indexed = indexer.push(piece);
      cache.add(indexed, 0);
      const d = consumer.deliveredBytes;
      consumer.push(indexed);
      if (resumedAt < 0 && consumer.deliveredBytes > d && consumer.droppedBytes >= droppedBefore) resumedAt = d;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const all = Buffer.concat(read);
    assert.ok(all.length > before, 'delivery resumed');
    assert.equal(all.length, consumer.deliveredBytes);
    assert.ok(resumedAt >= 0 && resumedAt % TS_PACKET === 0);
    assert.equal(packetAt(all, resumedAt / TS_PACKET).pid, 0);
    assert.equal(packetAt(all, resumedAt / TS_PACKET + 1).pid, PMT_PID);
    assert.deepEqual(packetAt(all, resumedAt / TS_PACKET + 2), { pid: TS_PROBE.videoPid, pusi: true, rai: true });
  });

  it('ignores a destroyed or ended sink', () => {
    for (const close of [(s: Writable) => s.destroy(), (s: Writable) => s.end()]) {
      const sink = new StalledSink();
      sink.on('error', () => undefined);
      const consumer = new FeedConsumer('v', sink, () => undefined);
      consumer.begin(undefined);
      close(sink);
      consumer.push({ data: TS.subarray(0, TS_PACKET), kinds: ['keyframe-start'] });
      assert.equal(consumer.deliveredBytes, 0);
      assert.equal(consumer.droppedBytes, 0);
    }
  });
});

describe('backoffDelay', () => {
  const table: Array<[attempt: number, delay: number]> = [
    [-5, 500], [0, 500], [1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 10_000], [6, 10_000], [1000, 10_000],
  ];
  for (const [attempt, delay] of table) {
    it(`attempt ${attempt} → ${delay} ms without jitter (random 0.5)`, () => assert.equal(backoffDelay(attempt), delay));
  }

  it('jitter stays within ±20% and reaches both ends', () => {
    for (let attempt = 0; attempt < DEFAULT_BACKOFF.stagesMs.length + 2; attempt++) {
      const base = backoffDelay(attempt);
      assert.equal(backoffDelay(attempt, DEFAULT_BACKOFF, 0), Math.round(base * 0.8));
      assert.ok(backoffDelay(attempt, DEFAULT_BACKOFF, 0.999999) <= Math.round(base * 1.2));
      const random = rng(attempt + 100);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, DEFAULT_BACKOFF, random());
        assert.ok(d >= base * 0.8 && d <= base * 1.2, `${d} outside ±20% of ${base}`);
        assert.ok(Number.isInteger(d));
      }
    }
  });

  it('custom and degenerate policies', () => {
    const p: BackoffPolicy = { stagesMs: [100, 200], jitter: 0 };
    assert.deepEqual([0, 1, 2, 9].map((a) => backoffDelay(a, p, 0.9)), [100, 200, 200, 200]);
    assert.equal(backoffDelay(0, { stagesMs: [], jitter: 0 }), 1000, 'no stages: a sane default');
    assert.equal(backoffDelay(0, { stagesMs: [1000], jitter: 1 }, 0), 0);
  });
});
