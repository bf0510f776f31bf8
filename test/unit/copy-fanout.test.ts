/**
 * The per-camera copy fanout (src/rtp/copy-feed-fanout.ts): one attachment and one parse for all of
 * a camera's copy viewers, joiners start from the newest keyframe, and a feed that ends under it
 * leaves the hold on the source with the viewers until they have moved to the restarted feed.
 * The source is a stand-in that writes a real FFmpeg MPEG-TS; the viewers are real RTP senders
 * whose packets the test controller's SRTP receiver authenticates.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { subscribeCopyFeed, type CopyFeedSource, type FanoutViewer } from '../../src/rtp/copy-feed-fanout.js';
import type { RtpPayload } from '../../src/rtp/h264-packetizer.js';
import type { Burst } from '../../src/rtp/rtp-timeline.js';
import type { AccessUnit } from '../../src/rtp/ts-access-units.js';
import { VideoRtpSender } from '../../src/rtp/video-rtp-sender.js';
import type { FeedAttachment } from '../../src/source/shared-source.js';
import { H264Depacketizer, parseRtp } from '../helpers/rtp-h264.js';
import { SrtpContext } from '../helpers/srtp.js';

const FEED = ((): Buffer => {
  const ts = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-frames:v', '45',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-bf', '0', '-f', 'mpegts', 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(ts.status, 0, ts.stderr.toString());
  return ts.stdout;
})();

interface Attached { sink: Writable; onEnd: (why: string) => void; released: boolean }

class FakeSource implements CopyFeedSource {
  readonly attachments: Attached[] = [];
  attach(_name: string, sink: Writable, onEnd: (why: string) => void): FeedAttachment {
    const a: Attached = { sink, onEnd, released: false };
    this.attachments.push(a);
    return { release: () => { a.released = true; }, startedFrom: undefined } as unknown as FeedAttachment;
  }
  /** Writes feed bytes [from, to) in odd-sized chunks, as a pipe delivers them. */
  write(a: Attached | undefined, from: number, to: number): void {
    if (!a) throw new Error('not attached');
    for (let i = from; i < to; i += 1000) a.sink.write(FEED.subarray(i, Math.min(to, i + 1000)));
  }
}

class Recorder implements FanoutViewer {
  readonly maxPayload = 1200;
  units: AccessUnit[] = [];
  payloads: (readonly RtpPayload[])[] = [];
  bursts: Burst[] = [];
  lostWhy: string[] = [];
  startBurst(burst: Burst): void { this.bursts.push(burst); }
  send(unit: AccessUnit, payloads: readonly RtpPayload[]): void { this.units.push(unit); this.payloads.push(payloads); }
  notH264(): void { throw new Error('H.264 expected'); }
  lost(why: string): void { this.lostWhy.push(why); }
}

/** A TS packet boundary mid-feed (mid-GOP), where a joiner comes in. */
const half = Math.floor(FEED.length / 188 / 2) * 188;

describe('copy fanout', () => {
  it('two viewers share one attachment and one packetization, and both decode clean', () => {
    const source = new FakeSource();
    const keyA = Buffer.alloc(30, 1);
    const keyB = Buffer.alloc(30, 2);
    const out: Record<'a' | 'b', Buffer[]> = { a: [], b: [] };
    const viewer = (name: 'a' | 'b', key: Buffer, ssrc: number): { sender: VideoRtpSender; seen: (readonly RtpPayload[])[] } => {
      const sender = new VideoRtpSender({ send: (d) => out[name].push(d), keyAndSalt: key, ssrc, payloadType: 99, mtu: 1378, rtcpIntervalS: 5 });
      const seen: (readonly RtpPayload[])[] = [];
      subscribeCopyFeed(source, name, {
        maxPayload: sender.payloadBudget, startBurst: (b) => sender.startBurst(b), notH264: () => undefined, lost: () => undefined,
        send: (u, p) => { seen.push(p); sender.send(u, p); },
      });
      return { sender, seen };
    };
    const a = viewer('a', keyA, 11);
    const b = viewer('b', keyB, 22);
    assert.equal(source.attachments.length, 1, 'one attachment for the camera');
    source.write(source.attachments[0], 0, FEED.length);
    a.sender.close();
    b.sender.close();
    assert.ok(a.seen.length >= 40);
    assert.equal(a.seen.length, b.seen.length);
    for (let i = 0; i < a.seen.length; i++) assert.equal(a.seen[i], b.seen[i], 'the same payload objects: packetized once');
    for (const [name, key] of [['a', keyA], ['b', keyB]] as const) {
      const rx = new SrtpContext({ key: key.subarray(0, 16), salt: key.subarray(16) });
      const depacketizer = new H264Depacketizer();
      for (const d of out[name]) {
        const plain = rx.unprotectRtp(d);
        const rtp = plain ? parseRtp(plain) : null;
        if (rtp) depacketizer.push(rtp, 0);
      }
      assert.equal(rx.stats.rtpAuthFailures, 0, name);
      assert.equal(depacketizer.stats.gaps, 0, name);
      assert.ok(depacketizer.sawIdr && depacketizer.sawSps && depacketizer.sawPps, name);
    }
  });

  it('a joiner gets the units since the newest keyframe as one burst, then the same live units as the others', () => {
    const source = new FakeSource();
    const first = new Recorder();
    const sub = subscribeCopyFeed(source, 'first', first);
    source.write(source.attachments[0], 0, half);
    const joiner = new Recorder();
    subscribeCopyFeed(source, 'joiner', joiner);
    const cached = joiner.units.length;
    assert.equal(joiner.bursts.length, 1);
    assert.ok(joiner.units[0]?.keyframe, 'the burst starts at a keyframe');
    assert.ok(joiner.units.slice(1).every((u) => !u.keyframe), 'and holds only that GOP');
    assert.equal(first.units.at(-1), joiner.units.at(-1), 'up to the live edge');
    assert.ok(joiner.bursts[0] && joiner.bursts[0].frames >= cached);
    source.write(source.attachments[0], half, FEED.length);
    assert.deepEqual(joiner.units.slice(cached), first.units.slice(first.units.length - (joiner.units.length - cached)));
    assert.equal(first.bursts.length, 0, 'a viewer of a cold feed gets no burst');
    sub.release();
    assert.equal(source.attachments[0]?.released, false, 'the joiner still holds the feed');
  });

  it('a feed that ends retires the fanout: viewers are told, the restarted feed gets a new one, the old hold goes with its last viewer', () => {
    const source = new FakeSource();
    const a = new Recorder();
    const b = new Recorder();
    const subA = subscribeCopyFeed(source, 'a', a);
    const subB = subscribeCopyFeed(source, 'b', b);
    source.write(source.attachments[0], 0, half);
    source.attachments[0]?.onEnd('camera feed ended (stalled)');
    assert.deepEqual(a.lostWhy, ['camera feed ended (stalled)']);
    assert.deepEqual(b.lostWhy, ['camera feed ended (stalled)']);
    const a2 = new Recorder();
    const subA2 = subscribeCopyFeed(source, 'a', a2);
    subA.release();
    assert.equal(source.attachments.length, 2, 'a new attachment on the restarted feed');
    assert.equal(source.attachments[0]?.released, false, 'b still holds the old one');
    subB.release();
    assert.equal(source.attachments[0]?.released, true);
    source.write(source.attachments[1], 0, FEED.length);
    assert.ok(a2.units[0]?.keyframe);
    subA2.release();
    assert.equal(source.attachments[1]?.released, true, 'the last release detaches');
    assert.equal(source.attachments[1]?.sink.destroyed, true);
    subscribeCopyFeed(source, 'c', new Recorder()).release();
    assert.equal(source.attachments.length, 3, 'a fanout is never reused after its last viewer left');
  });

  it('a GOP over the size bound is not kept: joiners wait for the next keyframe, live viewers keep getting every unit', () => {
    const source = new FakeSource();
    const first = new Recorder();
    subscribeCopyFeed(source, 'first', first, 1000);
    source.write(source.attachments[0], 0, half);
    const joiner = new Recorder();
    subscribeCopyFeed(source, 'joiner', joiner);
    assert.equal(joiner.bursts.length, 0, 'nothing cached to burst');
    const live = first.units.length;
    source.write(source.attachments[0], half, FEED.length);
    assert.ok(first.units.length - live >= 15, 'the first viewer kept receiving');
    // Live units until then reach it too; its RTP sender drops them until a keyframe (video-rtp-sender.ts).
    assert.ok(joiner.units.some((u) => u.keyframe), 'the joiner gets the next keyframe');
    assert.equal(first.units.at(-1), joiner.units.at(-1));
  });
});
