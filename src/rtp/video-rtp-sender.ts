/**
 * One viewer's video RTP stream: our SSRC, the controller's payload type, one sequence counter and
 * one timeline for the session's whole life (feed restarts included), SRTP, and SRTCP sender reports
 * every rtcp_interval. It sends through the socket whose port we advertised in SetupEndpoints, so the
 * controller sees one symmetric endpoint.
 */
import { randomInt } from 'node:crypto';
import { packetizeAccessUnit, type ParameterSets } from './h264-packetizer.js';
import { RtpTimeline, type Burst } from './rtp-timeline.js';
import { senderReport } from './sender-report.js';
import { SRTP_OVERHEAD, SrtpSession } from './srtp-session.js';
import type { AccessUnit } from './ts-access-units.js';

const RTP_HEADER_BYTES = 12;

export interface VideoRtpSenderInit {
  send: (datagram: Buffer) => void;
  keyAndSalt: Buffer;
  ssrc: number;
  payloadType: number;
  /** The controller's maximum RTP datagram size; SRTP's tag is counted inside it. */
  mtu: number;
  rtcpIntervalS: number;
  /** Tests start near 65535 to exercise the SRTP rollover counter. */
  firstSequence?: number;
  /** Called once, when the first access unit has been sent. */
  onFirstAccessUnit?: () => void;
  now?: () => number;
}

export class VideoRtpSender {
  private readonly srtp: SrtpSession;
  private readonly timeline: RtpTimeline;
  private readonly params: ParameterSets = {};
  private readonly maxPayload: number;
  private sequence: number;
  private lastTimestamp = 0;
  private lastSentAt: number | undefined;
  private srTimer: NodeJS.Timeout | undefined;
  packets = 0;
  octets = 0;
  accessUnits = 0;
  private waitingForKeyframe = true;
  private closed = false;

  constructor(private readonly init: VideoRtpSenderInit) {
    this.srtp = new SrtpSession(init.keyAndSalt);
    this.timeline = new RtpTimeline(randomInt(0, 0xffffffff));
    this.sequence = init.firstSequence ?? randomInt(0, 0x8000);
    this.maxPayload = init.mtu - RTP_HEADER_BYTES - SRTP_OVERHEAD;
    const interval = Math.min(5, Math.max(0.1, init.rtcpIntervalS || 0.5)) * 1000;
    this.srTimer = setInterval(() => this.sendReport(), interval);
    this.srTimer.unref();
  }

  private now(): number {
    return this.init.now?.() ?? performance.now();
  }

  /** The next access units are a cached GOP sent at once: compress their timestamps (rtp-timeline.ts). */
  startBurst(burst: Burst): void {
    this.timeline.startBurst(burst, this.now());
  }

  /** The feed restarted: its PTS clock and parameter sets start over; wait for its first keyframe. */
  restart(): void {
    this.timeline.restart();
    this.waitingForKeyframe = true;
  }

  /** Packetizes, protects and sends one access unit; frames before the first keyframe are dropped. */
  send(unit: AccessUnit): void {
    if (this.closed) return;
    if (this.waitingForKeyframe && !unit.keyframe) return;
    this.waitingForKeyframe = false;
    const now = this.now();
    const timestamp = this.timeline.map(unit.pts, now);
    const header = Buffer.allocUnsafe(RTP_HEADER_BYTES);
    header[0] = 0x80;
    header.writeUInt32BE(timestamp, 4);
    header.writeUInt32BE(this.init.ssrc >>> 0, 8);
    for (const { payload, marker } of packetizeAccessUnit(unit.nals, this.maxPayload, this.params)) {
      header[1] = (marker ? 0x80 : 0) | (this.init.payloadType & 0x7f);
      header.writeUInt16BE(this.sequence, 2);
      this.sequence = (this.sequence + 1) & 0xffff;
      this.init.send(this.srtp.protectRtp(Buffer.concat([header, payload], RTP_HEADER_BYTES + payload.length)));
      this.packets++;
      this.octets += payload.length;
    }
    if (this.accessUnits++ === 0) this.init.onFirstAccessUnit?.();
    this.lastTimestamp = timestamp;
    this.lastSentAt = now;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.srTimer);
    this.srTimer = undefined;
  }

  /** Sender report; its RTP time is the last frame's, moved on by the wall time since. */
  private sendReport(): void {
    if (this.closed || this.lastSentAt === undefined) return;
    const elapsed = Math.max(0, this.now() - this.lastSentAt);
    this.init.send(this.srtp.protectRtcp(senderReport({
      ssrc: this.init.ssrc,
      wallMs: Date.now(),
      rtpTimestamp: this.lastTimestamp + Math.round(elapsed * 90),
      packets: this.packets,
      octets: this.octets,
    })));
  }
}
