/**
 * `node --import tsx bench/copy-cost.ts <feed.ts> [viewers] [send|nosend]`: the CPU that copy
 * viewers cost in src/rtp, outside Homebridge: a recorded MPEG-TS feed goes through one camera's copy
 * fanout to N viewers' RTP senders as fast as it can, datagrams to a loopback socket. Prints the
 * process CPU; (CPU at N − CPU at 1) / (N − 1) / seconds of video is the per-extra-viewer share.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { subscribeCopyFeed } from '../src/rtp/copy-feed-fanout.js';
import { VideoRtpSender } from '../src/rtp/video-rtp-sender.js';
import type { FeedAttachment } from '../src/source/shared-source.js';

const file = process.argv[2];
if (!file) throw new Error('usage: copy-cost.ts <feed.ts> [viewers] [send|nosend]');
const viewers = Number(process.argv[3] ?? 8);
const send = (process.argv[4] ?? 'send') === 'send';
const feed = readFileSync(file);
const CHUNK = 188 * 40;

/** Stands in for the shared source: one sink, written to by the loop below. */
class RecordedSource {
  sink: Writable | undefined;
  attach(_name: string, sink: Writable): FeedAttachment {
    this.sink = sink;
    return { release: () => undefined, startedFrom: undefined } as unknown as FeedAttachment;
  }
}

async function main(): Promise<void> {
  const rx = createSocket('udp4');
  rx.on('message', () => undefined);
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  const tx = createSocket('udp4');
  await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
  const port = rx.address().port;
  const source = new RecordedSource();
  let packets = 0;
  for (let i = 0; i < viewers; i++) {
    const sender = new VideoRtpSender({
      send: (d) => {
        packets++;
        if (send) tx.send(d, port, '127.0.0.1');
      },
      keyAndSalt: Buffer.alloc(30, i + 1), ssrc: 1000 + i, payloadType: 99, mtu: 1378, rtcpIntervalS: 0.5,
    });
    subscribeCopyFeed(source, `viewer ${i}`, {
      maxPayload: sender.payloadBudget,
      startBurst: (b) => sender.startBurst(b),
      send: (u, p) => sender.send(u, p),
      notH264: () => undefined,
      lost: () => undefined,
    });
  }
  const sink = source.sink;
  if (!sink) throw new Error('no fanout attached');
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let offset = 0, n = 0; offset < feed.length; offset += CHUNK, n++) {
    sink.write(feed.subarray(offset, offset + CHUNK));
    // Let the socket drain now and then, as the live feed would.
    if (n % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpu = process.cpuUsage(t0);
  console.log(JSON.stringify({ viewers, send, packets, cpuMs: Math.round((cpu.user + cpu.system) / 1000), wallMs: Math.round(performance.now() - w0) }));
  rx.close();
  tx.close();
}
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
