/**
 * The UDP ports we hand the controller in SetupEndpoints. Binding them (not probing and releasing)
 * reserves them with no race against other processes. Only SRTCP that authenticates with the
 * viewer's key (and is not a replay) proves the viewer is still there: any host that can reach the
 * port could otherwise keep a session, its FFmpeg and the camera feed alive. The Node copy path also
 * sends the viewer's SRTP from this socket, so the controller sees one symmetric endpoint.
 */
import { createSocket, type Socket } from 'node:dgram';
import { SrtpSession } from '../rtp/srtp-session.js';

export class RtcpReceiver {
  lastPacketAt: number;
  /** Authenticated SRTCP packets from the viewer. */
  packets = 0;
  /** Datagrams refused: not SRTCP, wrong key, or replayed. */
  refused = 0;
  private readonly srtcp: SrtpSession;

  private constructor(private readonly socket: Socket, readonly port: number, now: number, keyAndSalt: Buffer) {
    this.lastPacketAt = now;
    this.srtcp = new SrtpSession(keyAndSalt);
    socket.on('message', (msg) => this.onMessage(msg));
    // Stray ICMP errors (a viewer that left) must not crash the plugin.
    socket.on('error', () => undefined);
  }

  static bind(address: string, family: 'ipv4' | 'ipv6', keyAndSalt: Buffer): Promise<RtcpReceiver> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: family === 'ipv6' ? 'udp6' : 'udp4', sendBufferSize: 1024 * 1024 });
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve(new RtcpReceiver(socket, socket.address().port, performance.now(), keyAndSalt));
      });
    });
  }

  /** Sends one datagram to the viewer from this port; errors (viewer gone) are the watchdog's business. */
  send(datagram: Buffer, port: number, address: string): void {
    try {
      this.socket.send(datagram, port, address);
    } catch {
      // Socket closed during teardown.
    }
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }

  private onMessage(msg: Buffer): void {
    // RTCP packet types 200..204 sit in byte 1 (RFC 5761); anything else is not a report.
    const type = msg[1] ?? 0;
    if (msg.length < 8 || msg[0] === undefined || msg[0] >> 6 !== 2 || type < 192 || type > 223 || !this.srtcp.unprotectRtcp(msg).ok) {
      this.refused++;
      return;
    }
    this.packets++;
    this.lastPacketAt = performance.now();
  }
}
