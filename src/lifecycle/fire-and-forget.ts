/**
 * The one way to start work nobody awaits (a probe tick, a session start, a teardown from a timer or
 * a HAP callback): its rejection is logged once, through the caller's per-camera logger (which
 * prefixes the camera's name and redacts), and contained, so it never becomes an unhandled rejection
 * that takes Homebridge down. Lint forbids a bare `void promise` so nothing bypasses this.
 */
import type { Log } from '../logging.js';

export function fireAndForget(log: Pick<Log, 'error'>, what: string, work: Promise<unknown> | (() => Promise<unknown>)): void {
  let promise: Promise<unknown>;
  try {
    promise = typeof work === 'function' ? work() : work;
  } catch (error) {
    report(log, what, error);
    return;
  }
  promise.then(undefined, (error: unknown) => report(log, what, error));
}

function report(log: Pick<Log, 'error'>, what: string, error: unknown): void {
  const message = error instanceof Error ? error.message || error.name : String(error);
  try {
    log.error(`${what} failed: ${message}`);
  } catch {
    // A logger that throws has nowhere left to report to; containing the failure is what matters.
  }
}
