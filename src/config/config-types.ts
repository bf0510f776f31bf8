/** Resolved configuration: what the rest of the plugin sees after validation and defaults. */

export type RtspTransport = 'tcp' | 'udp';
export type VideoMode = 'auto' | 'copy' | 'transcode';
export type AudioCodecChoice = 'auto' | 'opus' | 'aac-eld';

export interface VideoConfig {
  mode: VideoMode;
  maxWidth: number;
  maxHeight: number;
  maxFps: number;
  maxBitrate: number;
  encoder: string;
  /** Copy mode's video sender: Node (src/rtp) or, as before, an FFmpeg per viewer. */
  copySender: 'node' | 'ffmpeg';
}

export interface AudioConfig {
  enabled: boolean;
  codec: AudioCodecChoice;
}

/** One more stream of a camera (its substream); `source` of the camera stays the main stream. */
export interface SubstreamConfig {
  /** Unique per camera, never "main"; defaults to sub1, sub2, ... by position. */
  name: string;
  /** RTSP URL, with the camera's login added when it has none. */
  source: string;
  /** Size hint, used only until the stream's feed or probe has told its real size. */
  width?: number;
  height?: number;
}

export interface CameraConfig {
  id: string;
  name: string;
  /** The main stream. */
  source: string;
  /** Further streams; empty for a one-stream camera. */
  substreams: SubstreamConfig[];
  snapshotSource?: string;
  rtspTransport: RtspTransport;
  unbridge: boolean;
  maxStreams: number;
  prebuffer: boolean;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  video: VideoConfig;
  audio: AudioConfig;
  motion: boolean;
  motionTimeoutSeconds: number;
  doorbell: boolean;
  /** Rings closer together than this are dropped: a stuck publisher must not flood every phone. */
  doorbellMinIntervalSeconds: number;
  /** HomeKit Secure Video: recording services, prebuffer and fMP4 clips (implies a motion sensor). */
  recording: boolean;
}

export interface MqttTlsConfig {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export interface MqttConfig {
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** MQTT keepalive: how soon the broker notices a dead connection and publishes our last will. */
  keepaliveSeconds?: number;
  topicPrefix: string;
  homeAssistant: boolean;
  discoveryPrefix: string;
  tls?: MqttTlsConfig;
}

export interface PlatformConfig {
  name: string;
  ffmpegPath?: string;
  debug: boolean;
  probeIntervalSeconds: number;
  sourceLingerSeconds: number;
  cameras: CameraConfig[];
  mqtt?: MqttConfig;
}

/** One problem found in the configuration, phrased for a person reading the Homebridge log. */
export interface ConfigIssue {
  /** 'camera' issues skip that camera only; 'mqtt' disables MQTT; 'platform' falls back to defaults. */
  scope: 'platform' | 'camera' | 'mqtt';
  /** e.g. `camera "Front Door" (#1)`; never contains a secret. */
  subject: string;
  /** Dotted path of the offending field, e.g. `video.maxFps`. */
  field: string;
  message: string;
  /** A warning keeps the entry (unknown key); an error skips it. */
  severity: 'error' | 'warning';
}
