/** Turns FFmpeg's last stderr lines into the health reason a person can act on. */

export type FailureReason = 'unauthorized' | 'forbidden' | 'not_found' | 'unreachable' | 'no_video' | 'unsupported_transport' | 'stalled' | 'ffmpeg_failed';

const RULES: ReadonlyArray<readonly [RegExp, FailureReason]> = [
  [/401 Unauthorized|\b401\b.*auth/i, 'unauthorized'],
  [/403 Forbidden/i, 'forbidden'],
  // "method SETUP failed: 461 Unsupported transport": a UDP-only camera asked for RTP over TCP.
  [/\b461 Unsupported transport/i, 'unsupported_transport'],
  [/404 Not Found|Stream not found|No such file or directory/i, 'not_found'],
  [/Connection refused|Connection timed out|No route to host|Network is unreachable|Host is unreachable|Name or service not known|timed out|End of file|Server returned 5(?:\d\d|XX)|453 Not Enough Bandwidth/i, 'unreachable'],
  [/does not contain any stream|Output file .* does not contain|no video/i, 'no_video'],
];

export function classifyFailure(stderr: readonly string[]): FailureReason {
  for (let i = stderr.length - 1; i >= 0; i--) {
    const line = stderr[i] ?? '';
    for (const [pattern, reason] of RULES) if (pattern.test(line)) return reason;
  }
  return 'ffmpeg_failed';
}

/** What a person should change, for reasons their configuration can fix. */
export function failureHint(reason: FailureReason): string | undefined {
  return reason === 'unsupported_transport' ? 'the camera refuses RTSP over TCP (461 Unsupported Transport): set "rtspTransport": "udp" for this camera' : undefined;
}
