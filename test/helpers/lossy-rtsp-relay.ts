/**
 * A TCP relay in front of the fixture camera that can lose video packets, like a camera on a bad
 * link: RTSP over TCP carries RTP in `$`-framed interleaved blocks, and while `lossy` is on every
 * `dropEvery`-th RTP packet on the video channel (0) is left out. Everything else (RTSP requests,
 * responses, RTCP, other channels) passes untouched, so the client's session stays intact and only
 * the pictures are damaged: the decoder then reports what production sees on a lossy camera.
 */
import net from 'node:net';

export interface LossyRelayOptions {
  /** Upstream camera port on 127.0.0.1. */
  targetPort: number;
  /** Drop one video RTP packet in this many while lossy (default 20). */
  dropEvery?: number;
}

/** Splits the camera→client byte stream into interleaved frames and RTSP messages. */
class InterleavedSplitter {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly onUnit: (unit: Buffer, channel: number | undefined) => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const length = this.nextUnitLength();
      if (length === undefined) return;
      const unit = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      this.onUnit(unit, unit[0] === 0x24 ? unit[1] : undefined);
    }
  }

  /** Length of the complete unit at the head of the buffer, or undefined when it is not all here. */
  private nextUnitLength(): number | undefined {
    const b = this.buffer;
    if (b.length === 0) return undefined;
    if (b[0] === 0x24) {
      if (b.length < 4) return undefined;
      const length = 4 + b.readUInt16BE(2);
      return b.length >= length ? length : undefined;
    }
    const end = b.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = b.subarray(0, end).toString('latin1');
    const contentLength = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const length = end + 4 + contentLength;
    return b.length >= length ? length : undefined;
  }
}

export class LossyRtspRelay {
  /** While true, video packets are dropped. */
  lossy = false;
  /** Video RTP packets left out so far. */
  dropped = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(options: LossyRelayOptions): Promise<LossyRtspRelay> {
    const dropEvery = Math.max(2, options.dropEvery ?? 20);
    const ref: { relay?: LossyRtspRelay } = {};
    const server = net.createServer((client) => {
      const relay = ref.relay;
      if (!relay) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: options.targetPort });
      relay.sockets.add(client);
      relay.sockets.add(upstream);
      let videoPackets = 0;
      const splitter = new InterleavedSplitter((unit, channel) => {
        if (channel === 0 && relay.lossy && ++videoPackets % dropEvery === 0) {
          relay.dropped++;
          return;
        }
        client.write(unit);
      });
      upstream.on('data', (chunk: Buffer) => splitter.push(chunk));
      client.pipe(upstream);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        relay.sockets.delete(client);
        relay.sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on('error', close);
        s.on('close', close);
      }
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('relay: no TCP address'));
        else resolve(address.port);
      });
    });
    const relay = new LossyRtspRelay(server, port);
    ref.relay = relay;
    return relay;
  }

  /** The camera's URL through this relay (same path and credentials). */
  urlFor(cameraUrl: string): string {
    const url = new URL(cameraUrl);
    url.port = String(this.port);
    return url.toString();
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
