/**
 * One camera feed for all of its copy viewers: the MPEG-TS is parsed into access units once and
 * each unit packetized once per payload budget (MTU), then fanned out; a viewer only writes its RTP
 * header, encrypts and sends. Parsing and packetizing per viewer was most of a viewer's cost.
 *
 * A fanout is one attachment to the shared source, owned jointly by its subscribers: the last
 * release detaches it. When the feed ends under it, it is retired (new subscribers get a fresh
 * fanout on the restarted feed) but keeps its attachment's hold on the source until its subscribers
 * have moved on, so the source keeps restarting for them. A joiner gets the fanout's units since the
 * newest keyframe as one burst (rtp-timeline.ts compresses its timestamps), then the live edge.
 */
import { Writable } from 'node:stream';
import type { FeedAttachment, SharedSource } from '../source/shared-source.js';
import { packetizeAccessUnit, type ParameterSets, type RtpPayload } from './h264-packetizer.js';
import { ptsDelta, type Burst } from './rtp-timeline.js';
import { TsAccessUnitReader, type AccessUnit } from './ts-access-units.js';

/** What a fanout needs of the camera's shared source. */
export type CopyFeedSource = Pick<SharedSource, 'attach'>;

export interface FanoutViewer {
  /** The largest RTP payload this viewer's MTU allows. */
  readonly maxPayload: number;
  /** The next units are the cached GOP, sent at once. */
  startBurst(burst: Burst): void;
  send(unit: AccessUnit, payloads: readonly RtpPayload[]): void;
  /** The feed's video is not H.264: this path cannot carry it. */
  notH264(): void;
  /** The feed ended under this fanout (subscribe again to follow the restarted feed). */
  lost(why: string): void;
}

export interface FanoutSubscription {
  release(): void;
}

/** The same bound as the source's GOP cache (src/source/gop-cache.ts). */
const MAX_GOP_BYTES = 16 * 1024 * 1024;

interface Entry {
  unit: AccessUnit;
  /** Payloads by payload budget; nearly always one budget per camera. */
  payloads: Map<number, RtpPayload[]>;
}

class CopyFeedFanout {
  private readonly reader = new TsAccessUnitReader((unit) => this.onUnit(unit));
  private readonly viewers = new Set<FanoutViewer>();
  private readonly params: ParameterSets = {};
  /** Units since the newest keyframe: what a joiner starts from. */
  private gop: Entry[] = [];
  private gopBytes = 0;
  private sawKeyframe = false;
  private readonly sink: Writable;
  private readonly attachment: FeedAttachment;
  private refused = false;
  /** The feed ended under it, or its last subscriber left: no new subscribers. */
  retired = false;

  constructor(source: CopyFeedSource, name: string, private readonly maxGopBytes: number, private readonly onRetired: () => void) {
    // Synchronous: the feed's backpressure check (writableLength) sees an empty buffer unless the
    // event loop itself falls behind.
    this.sink = new Writable({
      decodeStrings: true,
      write: (chunk: Buffer, _encoding, callback) => {
        this.reader.push(chunk);
        callback();
      },
    });
    // A live source writes its cached GOP into the sink synchronously here: it lands in `gop`.
    this.attachment = source.attach(name, this.sink, (why) => this.onEnd(why));
  }

  subscribe(viewer: FanoutViewer): FanoutSubscription {
    this.viewers.add(viewer);
    if (this.refused) viewer.notH264();
    else this.sendBurst(viewer);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.viewers.delete(viewer);
        if (this.viewers.size === 0) this.close();
      },
    };
  }

  private onUnit(unit: AccessUnit): void {
    if (this.refused) return;
    if (!unit.h264) {
      this.refused = true;
      this.gop = [];
      for (const viewer of [...this.viewers]) viewer.notH264();
      return;
    }
    const entry: Entry = { unit, payloads: new Map() };
    const bytes = unit.nals.reduce((sum, nal) => sum + nal.length, 0);
    if (unit.keyframe) {
      this.sawKeyframe = true;
      this.gop = [entry];
      this.gopBytes = bytes;
    } else if (this.gop.length > 0) {
      this.gopBytes += bytes;
      // As the source's own GOP cache: a huge GOP is not kept; joiners then wait for the next keyframe.
      if (this.gopBytes > this.maxGopBytes) this.gop = [];
      else this.gop.push(entry);
    }
    // Until the first keyframe there is nothing a viewer could start from.
    if (!this.sawKeyframe) return;
    for (const viewer of this.viewers) viewer.send(unit, this.payloads(entry, viewer.maxPayload));
  }

  private payloads(entry: Entry, maxPayload: number): RtpPayload[] {
    let payloads = entry.payloads.get(maxPayload);
    if (!payloads) {
      payloads = packetizeAccessUnit(entry.unit.nals, maxPayload, this.params);
      entry.payloads.set(maxPayload, payloads);
    }
    return payloads;
  }

  private sendBurst(viewer: FanoutViewer): void {
    const first = this.gop[0];
    if (!first) return;
    // The newest frame is still being assembled (its end shows only when the next starts): it
    // arrives live, but belongs to the burst's time span.
    const pending = this.reader.pendingPts;
    let lastPts = first.unit.pts;
    for (const { unit } of this.gop) if (ptsDelta(lastPts, unit.pts) > 0) lastPts = unit.pts;
    if (pending !== undefined && ptsDelta(lastPts, pending) > 0) lastPts = pending;
    viewer.startBurst({ firstPts: first.unit.pts, lastPts, frames: this.gop.length + (pending === undefined ? 0 : 1) });
    for (const entry of this.gop) viewer.send(entry.unit, this.payloads(entry, viewer.maxPayload));
  }

  private onEnd(why: string): void {
    this.retire();
    this.gop = [];
    for (const viewer of [...this.viewers]) viewer.lost(why);
  }

  private retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.onRetired();
  }

  private close(): void {
    this.retire();
    this.gop = [];
    this.attachment.release();
    this.sink.destroy();
  }
}

/** The live fanout of each source; retired ones are owned by their remaining subscribers only. */
const live = new WeakMap<CopyFeedSource, CopyFeedFanout>();

/**
 * Joins the camera's copy fanout (creating it, and attaching to the source, for the first viewer).
 * `name` labels the attachment in the source's logs; `maxGopBytes` (tests) applies to a new fanout.
 */
export function subscribeCopyFeed(source: CopyFeedSource, name: string, viewer: FanoutViewer, maxGopBytes = MAX_GOP_BYTES): FanoutSubscription {
  let fanout = live.get(source);
  if (!fanout || fanout.retired) {
    const created: CopyFeedFanout = new CopyFeedFanout(source, name, maxGopBytes, () => {
      // Only after construction: a fanout is never retired while it attaches.
      if (live.get(source) === created) live.delete(source);
    });
    fanout = created;
    if (!fanout.retired) live.set(source, fanout);
  }
  return fanout.subscribe(viewer);
}
