/**
 * The UDP ports we hand the controller in SetupEndpoints. Binding them (not probing and releasing)
 * reserves them with no race against other processes, and whatever the controller sends to them
 * (RTCP receiver reports) proves the viewer is still there.
 */
import { createSocket, type Socket } from 'node:dgram';

export class RtcpReceiver {
  lastPacketAt: number;
  packets = 0;

  private constructor(private readonly socket: Socket, readonly port: number, now: number) {
    this.lastPacketAt = now;
    socket.on('message', () => {
      this.packets++;
      this.lastPacketAt = performance.now();
    });
    // Stray ICMP errors must not crash the plugin.
    socket.on('error', () => undefined);
  }

  static bind(address: string, family: 'ipv4' | 'ipv6'): Promise<RtcpReceiver> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(family === 'ipv6' ? 'udp6' : 'udp4');
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve(new RtcpReceiver(socket, socket.address().port, performance.now()));
      });
    });
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }
}
