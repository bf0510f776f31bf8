/** Homebridge's logger behind our Log interface: camera-name prefix, debug gated by config, redacted. */
import type { Logging } from 'homebridge';
import type { Log } from '../logging.js';

export function pluginLog(base: Logging, prefix: string, debugEnabled: boolean, redact: (text: string) => string): Log {
  const p = prefix ? `${prefix}: ` : '';
  // Messages are passed as an argument, never as a format string: a '%' in a camera name stays literal.
  return {
    info: (m) => base.info('%s', redact(p + m)),
    warn: (m) => base.warn('%s', redact(p + m)),
    error: (m) => base.error('%s', redact(p + m)),
    debug: (m) => (debugEnabled ? base.info('%s', redact(p + m)) : base.debug('%s', redact(p + m))),
  };
}
