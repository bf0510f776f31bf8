/**
 * Per-packet arrival times for the test client's streams, grouped into H.264 access units.
 *
 * The HAP client (test/helpers/hap-camera-client.ts) keeps only the first IDR *NAL*'s arrival; a
 * transcoded IDR picture is often several slices, and the lag metric needs every picture's arrival
 * time. So the benchmark wraps H264Depacketizer.prototype.push once (in this process only) to log
 * every decrypted RTP packet with its arrival time before the client's own depacketizer sees it.
 * Nothing in the helper changes; other users of it are unaffected.
 */
import { H264Depacketizer, NAL, type RtpPacket } from '../test/helpers/rtp-h264.js';

interface PacketRecord {
  pkt: RtpPacket;
  /** performance.now() when the datagram arrived (the client's clock for startedAt). */
  arrival: number;
  /** Date.now() at the same moment: the clock the camera's stamp uses. */
  wall: number;
}

export interface AccessUnit {
  rtpTimestamp: number;
  /** Arrival of the packet that completed the picture (marker bit), performance clock. */
  completeAt: number;
  /** The same moment on the wall clock (Date.now()). */
  completeWall: number;
  hasIdr: boolean;
  /** The picture's NAL units as Annex-B. */
  annexB: Buffer;
}

/** Bound per stream: ~20 s of 720p at 1 Mbit/s. */
const MAX_PACKETS = 20_000;
const logs = new WeakMap<H264Depacketizer, PacketRecord[]>();
let originalPush: ((this: H264Depacketizer, pkt: RtpPacket, arrival: number) => void) | undefined;

/** Start logging every packet pushed into any H264Depacketizer created from now on. Idempotent. */
export function installRtpRecorder(): void {
  if (originalPush) return;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
  const original = H264Depacketizer.prototype.push;
  originalPush = original;
  H264Depacketizer.prototype.push = function push(this: H264Depacketizer, pkt: RtpPacket, arrival: number): void {
    let list = logs.get(this);
    if (!list) {
      list = [];
      logs.set(this, list);
    }
    if (list.length < MAX_PACKETS) list.push({ pkt, arrival, wall: Date.now() });
    original.call(this, pkt, arrival);
  };
}

/**
 * The complete pictures a depacketizer received, in arrival order. A picture is complete when the
 * packet with the marker bit arrives (FFmpeg's RTP muxer sets it on each picture's last packet); a
 * trailing picture without one is left out.
 */
export function accessUnits(depacketizer: H264Depacketizer): AccessUnit[] {
  const push = originalPush;
  if (!push) throw new Error('installRtpRecorder() was not called before the stream started');
  const packets = logs.get(depacketizer) ?? [];
  const units: AccessUnit[] = [];
  let group: PacketRecord[] = [];
  const close = (complete: PacketRecord | undefined): void => {
    if (group.length > 0 && complete) {
      const own = new H264Depacketizer();
      for (const p of group) push.call(own, p.pkt, p.arrival);
      units.push({
        rtpTimestamp: complete.pkt.timestamp,
        completeAt: complete.arrival,
        completeWall: complete.wall,
        hasIdr: (own.stats.nalTypes[NAL.IDR] ?? 0) > 0,
        annexB: own.annexB(),
      });
    }
    group = [];
  };
  for (const record of packets) {
    const last = group.at(-1);
    // A new timestamp without a marker on the previous picture: that picture ended at its last packet.
    if (last && record.pkt.timestamp !== last.pkt.timestamp) close(last);
    group.push(record);
    if (record.pkt.marker) close(record);
  }
  return units;
}
