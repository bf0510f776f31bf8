/**
 * Input halves of FFmpeg argument lists. Pure: every function returns a fresh `string[]`.
 *
 * | flag                      | why                                                                   |
 * |---------------------------|-----------------------------------------------------------------------|
 * | -rtsp_transport tcp       | UDP drops packets on busy Wi-Fi: the "error while decoding MB" smear   |
 * | -timeout 10000000         | socket I/O timeout (µs) so a camera that goes silent ends FFmpeg       |
 * | -probesize/-analyzeduration | small: the SDP already names the codec; big values delay first frame |
 * | -f mpegts -i pipe:0       | viewers read the camera's shared feed from stdin, not the camera      |
 */

export const LOG_ARGS: readonly string[] = ['-hide_banner', '-loglevel', 'warning'];

export interface RtspInput {
  url: string;
  transport: 'tcp' | 'udp';
  /** I/O timeout in seconds before FFmpeg gives up on a silent camera. */
  timeoutSeconds?: number;
}

export function rtspInputArgs(input: RtspInput): string[] {
  return [
    '-rtsp_transport', input.transport,
    '-timeout', String(Math.round((input.timeoutSeconds ?? 10) * 1_000_000)),
    '-probesize', '500000',
    '-analyzeduration', '1000000',
    '-i', input.url,
  ];
}

/** An http(s) snapshot URL (a camera's JPEG endpoint) or any other URL FFmpeg opens itself. */
export function urlInputArgs(url: string, timeoutSeconds = 5): string[] {
  const isHttp = /^https?:/i.test(url);
  return isHttp ? ['-rw_timeout', String(timeoutSeconds * 1_000_000), '-i', url] : ['-i', url];
}

/** The camera's shared MPEG-TS feed, written into FFmpeg's stdin by the shared source. */
export function sharedFeedInputArgs(): string[] {
  // Timestamps come from the camera via the TS; small probe values because the feed starts with
  // PAT/PMT and a keyframe with SPS/PPS, which is all the demuxer needs.
  return ['-probesize', '200000', '-analyzeduration', '500000', '-f', 'mpegts', '-i', 'pipe:0'];
}
