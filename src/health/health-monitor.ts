/**
 * Holds one camera's health and keeps it current: feeds symptoms through the pure reducer, and while
 * no live feed proves the camera alive, probes it lightly (RTSP DESCRIBE) on the reducer's schedule.
 */
import type { Log } from '../logging.js';
import { DEFAULT_HEALTH_POLICY, initialHealth, nextProbeDelayMs, reduceHealth } from './health-reducer.js';
import type { HealthPolicy, HealthState, Symptom } from './health-types.js';
import { probeRtsp, type ProbeResult, type RtspProbeOptions } from './rtsp-probe.js';
import type { SdpVideoInfo } from './sdp.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { LoginGate } from './login-guard.js';

export interface HealthMonitorInit {
  url: string;
  policy?: HealthPolicy;
  log: Log;
  onChange: (state: HealthState, previous: HealthState) => void;
  /** True while the shared feed delivers frames: then the feed is the evidence, not a probe. */
  feedIsLive: () => boolean;
  probe?: (url: string, options: RtspProbeOptions) => Promise<ProbeResult>;
  probeTimeoutMs?: number;
  /**
   * The camera's rtspTransport: with 'tcp' the probe also SETUPs the video track, until that has
   * passed once and again after any failure, so a camera that only does UDP (461) is named as such.
   */
  transport?: 'tcp' | 'udp';
  /** Lockout-safe logins, shared with the camera feed: a probe with credentials is one login. */
  loginGate?: LoginGate;
  now?: () => number;
}

export class HealthMonitor {
  private current: HealthState;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (this.now() clock), and whether a probe is running right now. */
  private dueAt = 0;
  private probing = false;
  private readonly controller = new AbortController();
  private lastVideo: SdpVideoInfo | undefined;
  private transportChecked = false;
  private readonly policy: HealthPolicy;

  constructor(private readonly init: HealthMonitorInit) {
    this.policy = init.policy ?? DEFAULT_HEALTH_POLICY;
    this.current = initialHealth(this.now());
  }

  private now(): number {
    return this.init.now?.() ?? Date.now();
  }

  get state(): HealthState {
    return this.current;
  }

  /** What the last successful probe said about the stream (codec, size, SPS). */
  get video(): SdpVideoInfo | undefined {
    return this.lastVideo;
  }

  start(): void {
    this.schedule(0);
  }

  feed(symptom: Symptom): void {
    const previous = this.current;
    const next = reduceHealth(previous, symptom, this.now(), this.policy);
    if (next === previous) return;
    this.current = next;
    if (next.state !== previous.state || next.reason !== previous.reason) {
      const why = next.reason ? ` (${next.reason})` : '';
      const line = `health ${previous.state} → ${next.state}${why}`;
      if (next.state === 'offline') this.init.log.warn(next.lastError ? `${line}: ${next.lastError}` : line);
      else this.init.log.info(line);
    }
    this.init.onChange(next, previous);
    // A failure seen by the feed (not by a probe) calls for the reducer's quick re-check now, not
    // whenever the timer armed for a healthy camera fires (up to a whole probe interval later).
    if (this.timer && !this.probing && next.consecutiveFailures > previous.consecutiveFailures) {
      const delayMs = nextProbeDelayMs(next, this.policy);
      if (this.now() + delayMs < this.dueAt) this.schedule(delayMs);
    }
  }

  close(): void {
    this.controller.abort('closed');
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.controller.signal.aborted) return;
    clearTimeout(this.timer);
    this.dueAt = this.now() + delayMs;
    this.timer = setTimeout(() => fireAndForget(this.init.log, 'health probe', () => this.tick()), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const started = this.now();
    try {
      if (this.init.feedIsLive()) return;
      const probe = this.init.probe ?? probeRtsp;
      const ticket = this.init.loginGate?.begin();
      if (ticket && !ticket.ok) return; // the state stays what the last rejection made it
      this.probing = true;
      let result: ProbeResult;
      try {
        const options: RtspProbeOptions = { timeoutMs: this.init.probeTimeoutMs ?? 5000, signal: this.controller.signal };
        if (this.init.transport && !this.transportChecked) options.transport = this.init.transport;
        result = await probe(this.init.url, options);
        this.transportChecked = result.ok;
        ticket?.attempt.end(result.ok ? 'accepted' : result.reason === 'unauthorized' ? 'rejected' : 'unknown');
      } finally {
        this.probing = false;
        ticket?.attempt.end('unknown'); // a probe that threw; no-op after the outcome above
      }
      if (this.controller.signal.aborted) return;
      if (result.ok) {
        this.lastVideo = result.video;
        this.feed({ type: 'probe-ok', video: result.video });
      } else {
        this.feed({ type: 'probe-failed', reason: result.reason, message: result.message });
      }
    } finally {
      // Armed even when a probe or a listener threw: the camera stays watched. The reducer's delay
      // counts from the start of this probe, so a slow failure does not add up.
      this.schedule(Math.max(0, nextProbeDelayMs(this.current, this.policy) - (this.now() - started)));
    }
  }
}
