/**
 * Why something we own was torn down: a viewer session, an FFmpeg child, the camera feed, a snapshot
 * job. One closed set, so every `end(reason)`, `stop(reason)` and `abort(reason)` is spelled one way
 * and every check of an exit's reason is checked by the compiler. The text is what logs print.
 */
const TEARDOWN_REASONS = {
  // Asked for: nothing is wrong.
  'stopped-by-homekit': 'stopped by HomeKit',
  'set-up-again': 'set up again',
  'never-started': 'set up but never started',
  'evicted': 'never started; HomeKit set up a new stream instead',
  'refused': 'refused',
  'reconfigured': 'reconfigured',
  'idle': 'idle',
  'closed': 'shutting down',
  'timeout': 'timed out',
  'cancelled': 'cancelled',
  // Something failed.
  'stalled': 'the camera feed stalled',
  'start-failed': 'could not start',
  'ffmpeg-exited': 'FFmpeg exited',
  'feed-ended': 'the camera feed ended',
  'viewer-gone': 'the viewer went silent',
} as const satisfies Record<string, string>;

export type TeardownReason = keyof typeof TEARDOWN_REASONS;

/** The ways a viewer session ends on its own (it then tells HomeKit); the rest are asked for. */
export type SessionFailure = Extract<TeardownReason, 'start-failed' | 'ffmpeg-exited' | 'feed-ended' | 'viewer-gone'>;

export function isTeardownReason(value: unknown): value is TeardownReason {
  return typeof value === 'string' && Object.hasOwn(TEARDOWN_REASONS, value);
}

export function describeTeardown(reason: TeardownReason): string {
  return TEARDOWN_REASONS[reason];
}
