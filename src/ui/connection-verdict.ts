/**
 * What a "Test connection" result means, in plain words for the settings page. Pure: the probe
 * result and the snapshot outcome in, a headline plus details and advice out. Messages never
 * carry the URL's credentials (the probe's messages are already redacted).
 */
import type { ProbeResult } from '../health/rtsp-probe.js';

export interface ConnectionVerdict {
  ok: boolean;
  /** One line: what happened. */
  headline: string;
  /** What was found (codec, size, fps, audio). */
  details: string[];
  /** What it means for HomeKit, or what to fix. */
  advice: string[];
}

export type SnapshotOutcome = { ok: true; bytes: number; ms: number } | { ok: false; message: string } | null;

const FAILURES: Record<Exclude<ProbeResult, { ok: true }>['reason'], { headline: string; advice: string }> = {
  unauthorized: { headline: 'Wrong user name or password', advice: 'Check the user name and password for this camera (the camera answered 401).' },
  forbidden: { headline: 'The camera refused this user', advice: 'The login is valid but this user may not view the stream (403): use a user with live-view rights.' },
  not_found: { headline: 'Wrong path: the camera has no stream at this URL', advice: "Check the path after the address (e.g. /stream1, /h264Preview_01_main) in the camera's manual." },
  unreachable: { headline: 'Camera unreachable', advice: 'Check the address and port (RTSP is usually 554) and that the camera is on.' },
  timeout: { headline: 'Camera unreachable (no answer in time)', advice: 'The address did not answer: check the address, the port and the network between Homebridge and the camera.' },
  unsupported_transport: { headline: 'The camera refuses RTSP over TCP', advice: 'The camera answered 461 Unsupported Transport: set "RTSP transport" (rtspTransport) to udp for this camera.' },
  no_video: { headline: 'The stream has no video', advice: 'This URL carries no video track: pick the camera\'s video stream.' },
  bad_response: { headline: 'The camera gave an answer this plugin cannot use', advice: 'Make sure the URL is an RTSP stream (rtsp:// or rtsps://).' },
};

/** Apple Watch and small tiles play far better from a stream of this width or less. */
const SUBSTREAM_WIDTH = 1280;

export function explainConnection(probe: ProbeResult, snapshot: SnapshotOutcome): ConnectionVerdict {
  if (!probe.ok) {
    const failure = FAILURES[probe.reason];
    return {
      ok: false,
      headline: failure.headline,
      details: [probe.status ? `RTSP status ${probe.status}: ${probe.message}` : probe.message],
      advice: [failure.advice],
    };
  }
  const video = probe.video;
  const width = video.sps?.width ?? video.width;
  const height = video.sps?.height ?? video.height;
  const details = [
    `Video: ${codecName(video.codec)}${profileName(video.sps?.codec, video.sps?.profileIdc)}${width && height ? `, ${width}x${height}` : ', size not announced'}` +
      `${video.fps ?? video.sps?.fps ? `, ${Math.round((video.fps ?? video.sps?.fps) as number)} fps` : ''}`,
    probe.audio ? `Audio: ${probe.audio.codec.toUpperCase()} ${probe.audio.sampleRate} Hz, ${probe.audio.channels === 1 ? 'mono' : `${probe.audio.channels} channels`}` : 'Audio: none',
    `Answered in ${Math.round(probe.ms)} ms`,
  ];
  const advice: string[] = [];
  if (video.codec === 'h265') advice.push('H.265: live view will be transcoded to H.264 (uses CPU); a H.264 substream avoids that.');
  else if (video.codec !== 'h264') advice.push(`${codecName(video.codec)}: HomeKit needs H.264, so live view will be transcoded (uses CPU).`);
  else advice.push('H.264: live view can be forwarded without re-encoding.');
  if (width && width > SUBSTREAM_WIDTH) advice.push(`At ${width} px wide, use the camera's substream for the Apple Watch and small tiles.`);
  if (snapshot?.ok) details.push(`Snapshot: ${Math.round(snapshot.bytes / 1024)} KiB in ${Math.round(snapshot.ms)} ms`);
  else if (snapshot) advice.push(`The stream answered but no picture came out of it: ${snapshot.message}`);
  return { ok: true, headline: 'Connected', details, advice };
}

function codecName(codec: string): string {
  if (codec === 'h264') return 'H.264';
  if (codec === 'h265') return 'H.265';
  return codec.toUpperCase();
}

const H264_PROFILES: Record<number, string> = { 66: 'Baseline', 77: 'Main', 100: 'High' };

function profileName(codec: 'h264' | 'h265' | undefined, profileIdc: number | undefined): string {
  if (codec !== 'h264' || profileIdc === undefined) return '';
  return ` ${H264_PROFILES[profileIdc] ?? `profile ${profileIdc}`}`;
}
