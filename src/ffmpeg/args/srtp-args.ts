/** SRTP output pieces shared by the video and audio halves of a stream's argv. */

export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';

export interface SrtpTarget {
  address: string;
  /** The controller's port; RTCP goes to the same port (rtcp-mux as HomeKit expects). */
  port: number;
  /** 16-byte master key followed by the 14-byte master salt. */
  keyAndSalt: Buffer;
  mtu: number;
  /** Send from the interface HomeKit reached us on (FFmpeg would otherwise bind 0.0.0.0). */
  localAddress?: string;
}

export function srtpUrl(t: SrtpTarget): string {
  const host = t.address.includes(':') ? `[${t.address}]` : t.address;
  const local = t.localAddress ? `&localaddr=${t.localAddress}` : '';
  return `srtp://${host}:${t.port}?rtcpport=${t.port}&pkt_size=${t.mtu}${local}`;
}

export function srtpOutputArgs(t: SrtpTarget, payloadType: number, ssrc: number): string[] {
  return [
    '-payload_type', String(payloadType),
    // FFmpeg takes the SSRC as a signed 32-bit integer.
    '-ssrc', String(ssrc | 0),
    '-f', 'rtp',
    '-srtp_out_suite', SRTP_SUITE,
    '-srtp_out_params', t.keyAndSalt.toString('base64'),
    srtpUrl(t),
  ];
}

/**
 * Plain RTP to a loopback port of the plugin's (src/rtp/rtp-relay.ts), which re-sends it as the
 * session's SRTP. rtcpport = the same port, so FFmpeg's reports land on a bound socket (no ICMP
 * unreachable back into FFmpeg). pkt_size leaves room for the 10-byte SRTP tag the relay adds.
 */
export function relayOutputArgs(port: number, mtu: number, payloadType: number, ssrc: number): string[] {
  return [
    '-payload_type', String(payloadType),
    '-ssrc', String(ssrc | 0),
    '-f', 'rtp',
    `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=${mtu - 10}`,
  ];
}
