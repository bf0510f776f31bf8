/** Homebridge's logger behind our Log interface: camera-name prefix, debug gated by config, redacted. */
import type { Logging } from 'homebridge';
import { printableName, printableText } from '../config/redact.js';
import type { Log } from '../logging.js';

/**
 * One log call, one line: control characters (CR, LF, ESC …) and Unicode line/paragraph separators
 * become a space and bidi controls are removed, so a camera name or path from the config cannot forge
 * log lines, colour codes or text shown in a different order.
 */
export function oneLine(text: string): string {
  return printableText(text);
}

export function pluginLog(base: Logging, prefix: string, debugEnabled: boolean, redact: (text: string) => string): Log {
  const name = printableName(prefix);
  const p = name ? `${name}: ` : '';
  const line = (m: string): string => oneLine(redact(p + m));
  // Messages are passed as an argument, never as a format string: a '%' in a camera name stays literal.
  return {
    info: (m) => base.info('%s', line(m)),
    warn: (m) => base.warn('%s', line(m)),
    error: (m) => base.error('%s', line(m)),
    debug: (m) => (debugEnabled ? base.info('%s', line(m)) : base.debug('%s', line(m))),
  };
}
