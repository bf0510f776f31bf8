/**
 * "At most once per key per window", for log lines a remote publisher can trigger at will (a bad
 * `…/set` payload sent in a loop must not fill the Homebridge log). Bounded: past `maxKeys` distinct
 * keys within one window, new keys are dropped too, so a flood of distinct topics is still one flood.
 */
export interface LogThrottleInit {
  windowMs: number;
  maxKeys?: number;
  now?: () => number;
}

export class LogThrottle {
  private readonly last = new Map<string, number>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly init: LogThrottleInit) {
    this.maxKeys = init.maxKeys ?? 256;
    this.now = init.now ?? Date.now;
  }

  /** True when `key` may be logged now (and records that it was). */
  allow(key: string): boolean {
    const now = this.now();
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.init.windowMs) return false;
    if (at === undefined && this.last.size >= this.maxKeys) {
      for (const [k, t] of this.last) if (now - t >= this.init.windowMs) this.last.delete(k);
      if (this.last.size >= this.maxKeys) return false;
    }
    this.last.set(key, now);
    return true;
  }
}
