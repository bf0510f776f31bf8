/**
 * `node --import tsx bench/copy-cost.ts <feed.ts> [viewers] [send|nosend]`: the CPU a copy viewer
 * costs in src/rtp, outside Homebridge: a recorded MPEG-TS feed goes through N copy viewers' sinks
 * and senders as fast as it can, datagrams to a loopback socket. CPU per second of video, per viewer.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { CopyVideoSink } from '../src/rtp/copy-video-sink.js';
import { VideoRtpSender } from '../src/rtp/video-rtp-sender.js';

const file = process.argv[2];
if (!file) throw new Error('usage: copy-cost.ts <feed.ts> [viewers] [send|nosend]');
const viewers = Number(process.argv[3] ?? 8);
const send = (process.argv[4] ?? 'send') === 'send';
const feed = readFileSync(file);
const CHUNK = 188 * 40;

async function main(): Promise<void> {
  const rx = createSocket('udp4');
  rx.on('message', () => undefined);
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  const tx = createSocket('udp4');
  await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
  const port = rx.address().port;
  const sinks: CopyVideoSink[] = [];
  let packets = 0;
  for (let i = 0; i < viewers; i++) {
    const sender = new VideoRtpSender({
      send: (d) => { packets++; if (send) tx.send(d, port, '127.0.0.1'); },
      keyAndSalt: Buffer.alloc(30, i + 1), ssrc: 1000 + i, payloadType: 99, mtu: 1378, rtcpIntervalS: 0.5,
    });
    sinks.push(new CopyVideoSink(sender, false, () => undefined));
  }
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let offset = 0; offset < feed.length; offset += CHUNK) {
    const chunk = feed.subarray(offset, offset + CHUNK);
    for (const sink of sinks) sink.write(chunk);
    // Let the socket drain now and then, as the live feed would.
    if ((offset / CHUNK) % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpu = process.cpuUsage(t0);
  const ms = (cpu.user + cpu.system) / 1000;
  // 1 Mbit/s camera: seconds of video ≈ bytes / 125 000; the exact span is the feed's own.
  console.log(JSON.stringify({ viewers, send, packets, cpuMs: Math.round(ms), wallMs: Math.round(performance.now() - w0), msPerViewer: +(ms / viewers).toFixed(1) }));
  rx.close();
  tx.close();
}
void main();
