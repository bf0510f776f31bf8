/** RFC 3550 §6.4.1 sender report (no report blocks: we receive no media from the viewer). */

/** Seconds between 1900 (NTP epoch) and 1970. */
const NTP_OFFSET_S = 2_208_988_800;

export interface SenderReportInit {
  ssrc: number;
  wallMs: number;
  rtpTimestamp: number;
  packets: number;
  octets: number;
}

export function senderReport(r: SenderReportInit): Buffer {
  const sr = Buffer.alloc(28);
  sr[0] = 0x80;
  sr[1] = 200;
  sr.writeUInt16BE(6, 2);
  sr.writeUInt32BE(r.ssrc >>> 0, 4);
  const seconds = Math.floor(r.wallMs / 1000);
  sr.writeUInt32BE((seconds + NTP_OFFSET_S) >>> 0, 8);
  sr.writeUInt32BE(Math.floor(((r.wallMs - seconds * 1000) / 1000) * 0x1_0000_0000) >>> 0, 12);
  sr.writeUInt32BE(r.rtpTimestamp >>> 0, 16);
  sr.writeUInt32BE(r.packets >>> 0, 20);
  sr.writeUInt32BE(r.octets >>> 0, 24);
  return sr;
}
