/**
 * Input halves of FFmpeg argument lists. Pure: every function returns a fresh `string[]`.
 *
 * | flag                      | why                                                                   |
 * |---------------------------|-----------------------------------------------------------------------|
 * | -rtsp_transport tcp       | UDP drops packets on busy Wi-Fi: the "error while decoding MB" smear   |
 * | -buffer_size 1048576 (UDP)| 2 s of a 4 Mbit/s stream: a keyframe burst overflows the default     |
 * |                           | ~200 KB socket buffer and smears (the kernel caps it at rmem_max)     |
 * | -timeout 10000000         | socket I/O timeout (µs) so a camera that goes silent ends FFmpeg       |
 * | -probesize/-analyzeduration | small: the SDP already names the codec; big values delay first frame |
 * | -analyzeduration 0.1 s (RTSP) | a camera sends P-frames from PLAY on: with 1 s of analysis the    |
 * |                           | feed's first keyframe left FFmpeg up to 1 s after PLAY, ~0.5 s after it |
 * |                           | arrived; with 0.1 s it leaves ~70 ms after it arrives                 |
 * | -f mpegts -i pipe:0       | viewers read the camera's shared feed from stdin, not the camera      |
 * | -flags low_delay (feed)   | no frame-threaded decoding: its 2-frame delay held back every picture |
 * |                           | of a transcoding viewer (130 ms behind live; 60 ms on its first one)  |
 *
 * Measured, not guessed: `npm run bench` (bench/ffmpeg-flags.ts, docs/benchmarks.md). Deliberately
 * absent: `-fflags nobuffer` drops the packets read while probing, i.e. the cached keyframe, so the
 * viewer waits for the camera's next one (+1.3 s copy, +2 s transcode with the test camera's 2 s GOP);
 * `-probesize 32` stops after the first packet, which is often audio, and then copy has no video size.
 * The feed's 0.5 s analyzeduration costs a cold start ~0.6 s (MPEG-TS has no header, so FFmpeg analyses
 * that much stream even when it knows every codec, and a cold feed holds one frame), but a constant
 * lower value breaks copy for low-fps cameras with audio; see docs/benchmarks.md.
 */

export const LOG_ARGS: readonly string[] = ['-hide_banner', '-loglevel', 'warning'];

export interface RtspInput {
  url: string;
  transport: 'tcp' | 'udp';
  /** I/O timeout in seconds before FFmpeg gives up on a silent camera. */
  timeoutSeconds?: number;
  /** FFmpeg 4.x: `-stimeout` (its `-timeout` means listen); see capabilities.ts. Default `-timeout`. */
  timeoutOption?: '-timeout' | '-stimeout';
}

/** RTP/UDP receive buffer: 2 s of a 4 Mbit/s camera (a keyframe of a 2 s GOP arrives as one burst). */
export const UDP_RECEIVE_BUFFER_BYTES = 1024 * 1024;

export function rtspInputArgs(input: RtspInput): string[] {
  return [
    '-rtsp_transport', input.transport,
    ...(input.transport === 'udp' ? ['-buffer_size', String(UDP_RECEIVE_BUFFER_BYTES)] : []),
    input.timeoutOption ?? '-timeout', String(Math.round((input.timeoutSeconds ?? 10) * 1_000_000)),
    '-probesize', '500000',
    '-analyzeduration', '100000',
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
  // PAT/PMT and a keyframe with SPS/PPS, which is all the demuxer needs. low_delay only reaches
  // decoders (transcode, snapshots); copy ignores it.
  return ['-probesize', '200000', '-analyzeduration', '500000', '-flags', 'low_delay', '-f', 'mpegts', '-i', 'pipe:0'];
}
