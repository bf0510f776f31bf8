/**
 * The shapes of a viewer's request, between HAP-NodeJS and a stream session: the raw numbers HomeKit
 * sends, and what request-mapping.ts turns them into. Types only, so the pure mapping and audio
 * decisions import nothing stateful.
 */
import type { AudioOutput, VideoOutput } from '../ffmpeg/args/stream-args.js';

/** HAP-NodeJS's START/RECONFIGURE video parameters, as received (unvalidated). */
export interface RawVideoInfo {
  profile: number;
  level: number;
  width: number;
  height: number;
  fps: number;
  pt: number;
  max_bit_rate: number;
  rtcp_interval: number;
  mtu: number;
}

/** HAP-NodeJS's START audio parameters, as received (unvalidated). */
export interface RawAudioInfo {
  codec: string;
  channel: number;
  bit_rate: number;
  sample_rate: number;
  packet_time: number;
  pt: number;
  max_bit_rate: number;
}

/** What the viewer asked for, validated and capped (see request-mapping.ts). */
export type VideoRequest = Pick<VideoOutput, 'width' | 'height' | 'fps' | 'bitrateKbps' | 'profile' | 'level' | 'payloadType'> & {
  mtu: number;
  rtcpIntervalS: number;
};

export type AudioRequest = Omit<AudioOutput, 'ssrc' | 'target'>;

/** Where a viewer's SRTP goes, from SetupEndpoints (validated by the streaming delegate). */
export interface SessionTarget {
  address: string;
  /** Our address on the HAP connection: where RTCP is received and SRTP is sent from. */
  localAddress: string;
  family: 'ipv4' | 'ipv6';
  videoPort: number;
  audioPort: number;
  videoKeyAndSalt: Buffer;
  audioKeyAndSalt: Buffer;
}
