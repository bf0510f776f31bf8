/**
 * A transcoding viewer's FFmpeg writes plain RTP to a loopback port of ours; this relay sends it on
 * to the viewer as SRTP with the session's own SSRC, key, sequence counter and timeline. FFmpeg
 * restarts (RECONFIGURE, a camera drop) then change nothing the viewer can see: the sequence and
 * timestamps run on, so an RFC 3711 receiver's replay window never refuses the new FFmpeg's packets
 * and a player's jitter buffer never resets. One relay per medium.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { senderReport } from './sender-report.js';
import { SRTP_OVERHEAD, SrtpSession } from './srtp-session.js';

const RTP_WRAP = 2 ** 32;

export interface RtpRelayInit {
  /** Sends one datagram to the viewer (from the port advertised in SetupEndpoints). */
  send: (datagram: Buffer) => void;
  keyAndSalt: Buffer;
  ssrc: number;
  payloadType: number;
  clockRate: number;
  rtcpIntervalS: number;
  /** Called once, when the first packet has been relayed. */
  onFirstPacket?: () => void;
}

export class RtpRelay {
  private readonly srtp: SrtpSession;
  private readonly base = randomInt(0, 0xffffffff);
  private sequence = randomInt(0, 0x8000);
  /** The FFmpeg currently feeding us, by the SSRC we gave it; packets of a replaced one are dropped. */
  private sourceSsrc: number | undefined;
  private sourceFirstTs: number | undefined;
  private sourceLastTs = 0;
  private sourceSpan = 0;
  /** Output ticks (unwrapped) where the current source's first packet was placed. */
  private sourceStartOut = 0;
  private lastOut = 0;
  private lastSentAt: number | undefined;
  private srTimer: NodeJS.Timeout | undefined;
  packets = 0;
  octets = 0;
  private closed = false;

  private constructor(private readonly socket: Socket, readonly port: number, private readonly init: RtpRelayInit) {
    this.srtp = new SrtpSession(init.keyAndSalt);
    socket.on('message', (msg) => this.onPacket(msg));
    socket.on('error', () => undefined);
    const interval = Math.min(5, Math.max(0.1, init.rtcpIntervalS || 0.5)) * 1000;
    this.srTimer = setInterval(() => this.sendReport(), interval);
    this.srTimer.unref();
  }

  static open(init: RtpRelayInit): Promise<RtpRelay> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: 'udp4', recvBufferSize: 2 * 1024 * 1024 });
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new RtpRelay(socket, socket.address().port, init));
      });
    });
  }

  /** A new FFmpeg will send with this SSRC: its first packet continues the timeline after the gap. */
  expect(sourceSsrc: number): void {
    this.sourceSsrc = sourceSsrc >>> 0;
    this.sourceFirstTs = undefined;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.srTimer);
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }

  private onPacket(msg: Buffer): void {
    if (this.closed || msg.length < 12 || (msg[0] ?? 0) >> 6 !== 2) return;
    const type = msg[1] ?? 0;
    // FFmpeg's own sender reports (rtcpport is this port): ours replace them.
    if (type >= 192 && type <= 223) return;
    if (msg.readUInt32BE(8) !== this.sourceSsrc) return;
    const ts = msg.readUInt32BE(4);
    const now = performance.now();
    if (this.sourceFirstTs === undefined) {
      this.sourceFirstTs = ts;
      this.sourceSpan = 0;
      const gapMs = this.lastSentAt === undefined ? 0 : Math.max(1, now - this.lastSentAt);
      this.sourceStartOut = this.lastSentAt === undefined ? 0 : this.lastOut + Math.round((gapMs * this.init.clockRate) / 1000);
    } else {
      this.sourceSpan += (ts - this.sourceLastTs) | 0;
    }
    this.sourceLastTs = ts;
    const out = this.sourceStartOut + this.sourceSpan;
    // One buffer per packet, with room for the tag: rewritten and protected in place (this runs
    // for every packet of every transcoding viewer).
    const packet = Buffer.allocUnsafe(msg.length + SRTP_OVERHEAD);
    msg.copy(packet, 0);
    packet[1] = ((msg[1] ?? 0) & 0x80) | (this.init.payloadType & 0x7f);
    packet.writeUInt16BE(this.sequence, 2);
    this.sequence = (this.sequence + 1) & 0xffff;
    packet.writeUInt32BE((this.base + out) % RTP_WRAP, 4);
    packet.writeUInt32BE(this.init.ssrc >>> 0, 8);
    const headerBytes = 12 + 4 * ((msg[0] ?? 0) & 0x0f);
    this.srtp.protectRtpInPlace(packet, msg.length, headerBytes);
    this.init.send(packet);
    if (this.packets++ === 0) this.init.onFirstPacket?.();
    this.octets += msg.length - headerBytes;
    this.lastOut = Math.max(this.lastOut, out);
    this.lastSentAt = now;
  }

  private sendReport(): void {
    if (this.closed || this.lastSentAt === undefined) return;
    const elapsed = Math.max(0, performance.now() - this.lastSentAt);
    this.init.send(this.srtp.protectRtcp(senderReport({
      ssrc: this.init.ssrc,
      wallMs: Date.now(),
      rtpTimestamp: (this.base + this.lastOut + Math.round((elapsed * this.init.clockRate) / 1000)) % RTP_WRAP,
      packets: this.packets,
      octets: this.octets,
    })));
  }
}
