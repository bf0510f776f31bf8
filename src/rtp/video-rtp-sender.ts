/**
 * One viewer's video RTP stream: our SSRC, the controller's payload type, one sequence counter and
 * one timeline for the session's whole life (feed restarts included), SRTP, and SRTCP sender reports
 * every rtcp_interval. It sends through the socket whose port we advertised in SetupEndpoints, so the
 * controller sees one symmetric endpoint.
 */
import { randomInt } from 'node:crypto';
import { packetizeAccessUnit, type ParameterSets, type RtpPayload } from './h264-packetizer.js';
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

  /**
   * Packetizes, protects and sends one access unit; frames before the first keyframe are dropped.
   * `payloads`, when given, are the unit's RTP payloads for this sender's `maxPayload`, packetized
   * once for all the camera's viewers (copy-feed-fanout.ts); only headers and SRTP are per viewer.
   */
  send(unit: AccessUnit, payloads?: readonly RtpPayload[]): void {
    if (this.closed) return;
    if (this.waitingForKeyframe && !unit.keyframe) return;
    this.waitingForKeyframe = false;
    const now = this.now();
    const timestamp = this.timeline.map(unit.pts, now);
    const ssrc = this.init.ssrc >>> 0;
    const payloadType = this.init.payloadType & 0x7f;
    for (const { payload, marker } of payloads ?? packetizeAccessUnit(unit.nals, this.maxPayload, this.params)) {
      const plainLength = RTP_HEADER_BYTES + payload.length;
      // One buffer per datagram: header, payload, then room for the SRTP tag, protected in place.
      const packet = Buffer.allocUnsafe(plainLength + SRTP_OVERHEAD);
      packet[0] = 0x80;
      packet[1] = (marker ? 0x80 : 0) | payloadType;
      packet[2] = this.sequence >>> 8;
      packet[3] = this.sequence & 0xff;
      packet.writeUInt32BE(timestamp, 4);
      packet.writeUInt32BE(ssrc, 8);
      payload.copy(packet, RTP_HEADER_BYTES);
      this.sequence = (this.sequence + 1) & 0xffff;
      this.srtp.protectRtpInPlace(packet, plainLength, RTP_HEADER_BYTES);
      this.init.send(packet);
      this.packets++;
      this.octets += payload.length;
    }
    if (this.accessUnits++ === 0) this.init.onFirstAccessUnit?.();
    this.lastTimestamp = timestamp;
    this.lastSentAt = now;
  }

  /** The largest RTP payload this viewer's MTU allows (after the RTP header and SRTP's tag). */
  get payloadBudget(): number {
    return this.maxPayload;
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
