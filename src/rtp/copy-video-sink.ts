/**
 * Where a copy viewer's share of the camera feed goes instead of an FFmpeg stdin: MPEG-TS in, access
 * units out to the viewer's RTP sender. Processing is synchronous, so the feed's backpressure check
 * (writableLength) sees an empty buffer unless the event loop itself falls behind.
 */
import { Writable } from 'node:stream';
import { ptsDelta } from './rtp-timeline.js';
import { TsAccessUnitReader, type AccessUnit } from './ts-access-units.js';
import type { VideoRtpSender } from './video-rtp-sender.js';

export class CopyVideoSink extends Writable {
  private readonly reader: TsAccessUnitReader;
  private burst: AccessUnit[] | undefined;
  private refused = false;

  /**
   * @param startsWithCache whether the first write is the cached GOP (the feed was live at attach)
   * @param onNotH264 the feed's video is not H.264: this path cannot carry it
   */
  constructor(private readonly sender: VideoRtpSender, startsWithCache: boolean, private readonly onNotH264: () => void) {
    super({ decodeStrings: true });
    this.burst = startsWithCache ? [] : undefined;
    this.reader = new TsAccessUnitReader((unit) => this.onUnit(unit));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.reader.push(chunk);
    const burst = this.burst;
    if (burst) {
      this.burst = undefined;
      this.sendBurst(burst);
    }
    callback();
  }

  private onUnit(unit: AccessUnit): void {
    if (this.refused) return;
    if (!unit.h264) {
      this.refused = true;
      this.onNotH264();
      return;
    }
    if (this.burst) this.burst.push(unit);
    else this.sender.send(unit);
  }

  private sendBurst(units: AccessUnit[]): void {
    const first = units[0];
    if (!first) return;
    // The last cached frame is still being assembled: it belongs to the burst too.
    const pending = this.reader.pendingPts;
    let lastPts = first.pts;
    for (const unit of units) if (ptsDelta(lastPts, unit.pts) > 0) lastPts = unit.pts;
    if (pending !== undefined && ptsDelta(lastPts, pending) > 0) lastPts = pending;
    this.sender.startBurst({ firstPts: first.pts, lastPts, frames: units.length + (pending === undefined ? 0 : 1) });
    for (const unit of units) this.sender.send(unit);
  }
}
