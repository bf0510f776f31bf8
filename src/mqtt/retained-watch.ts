/**
 * The settings page's read-only view of a few retained topics, kept for as long as its server
 * runs: one connection, not one per /status poll (a broker log would otherwise show a connect
 * every 3 s while the dashboard is open). It never publishes and has no last will, so it cannot
 * disturb the plugin's availability; its client id is its own (random), so it never takes over the
 * plugin's session. The latest payload per topic is kept in memory; a retained message cleared on
 * the broker (empty payload) is forgotten. Lost connections are retried with a bounded backoff; a
 * new target (other broker, credentials or topics) ends the old subscription and starts a new one.
 * One owner (UiRequests), one teardown: close(). Nothing here throws; no timer keeps a process alive.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { redactSecrets, redactUrlsInText, secretsInUrl } from '../config/redact.js';
import { clientAuthOptions } from './client-auth.js';

export interface RetainedTarget {
  url: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Exact topics (no wildcards). */
  topics: readonly string[];
}

export type RetainedRead =
  | { ok: true; messages: Map<string, Buffer> }
  /** `message` is redacted (no password, no URL userinfo). */
  | { ok: false; message: string };

export interface ReconnectBackoff {
  baseMs: number;
  capMs: number;
}

export interface RetainedWatchOptions {
  /**
   * Bound on a read while a (re)connection has not answered yet: connect + subscribe + the retained
   * replies (default 3000 ms). Also MQTT.js's connect timeout.
   */
  firstAnswerMs?: number;
  /** After SUBACK, how long to wait for topics that hold nothing retained (default 500 ms). */
  settleMs?: number;
  backoff?: Partial<ReconnectBackoff>;
}

const END_GRACE_MS = 1000;

export const DEFAULT_WATCH_BACKOFF: Readonly<ReconnectBackoff> = Object.freeze({ baseMs: 1000, capMs: 15_000 });

/** Delay before reconnect attempt n+1 after `failures` failed ones: doubling from base, capped. */
export function reconnectDelayMs(failures: number, backoff: ReconnectBackoff = DEFAULT_WATCH_BACKOFF): number {
  const n = Math.max(0, Math.min(30, Math.floor(failures)));
  return Math.min(backoff.capMs, backoff.baseMs * 2 ** n);
}

export class RetainedWatch {
  private current: Subscription | undefined;
  private closed = false;
  private readonly settings: Settings;

  constructor(options: RetainedWatchOptions = {}) {
    this.settings = {
      firstAnswerMs: options.firstAnswerMs ?? 3000,
      settleMs: options.settleMs ?? 500,
      backoff: { ...DEFAULT_WATCH_BACKOFF, ...options.backoff },
    };
  }

  /**
   * The latest payloads of the target's topics. Answers from memory once the subscription is up;
   * waits (bounded) while a connection is being made; fails at once while the broker is down.
   */
  async read(target: RetainedTarget): Promise<RetainedRead> {
    if (this.closed) return { ok: false, message: 'closed' };
    const key = JSON.stringify([target.url, target.username ?? null, target.password ?? null, target.tls ?? null, [...new Set(target.topics)].sort()]);
    let sub = this.current;
    if (sub?.key !== key) {
      const old = sub;
      sub = new Subscription(key, target, this.settings);
      this.current = sub;
      // Set before awaiting, so concurrent reads share the new subscription.
      if (old) await old.end();
    }
    return sub.answer();
  }

  /** Ends the subscription (MQTT turned off); a later read starts a new one. */
  release(): Promise<void> {
    const sub = this.current;
    this.current = undefined;
    return sub ? sub.end() : Promise.resolve();
  }

  /** The one teardown: the socket is closed when this resolves; later reads fail. */
  close(): Promise<void> {
    this.closed = true;
    return this.release();
  }
}

interface Settings {
  firstAnswerMs: number;
  settleMs: number;
  backoff: ReconnectBackoff;
}

/** One target's connection, kept up until end(). */
class Subscription {
  private client: MqttClient | undefined;
  private phase: 'connecting' | 'settling' | 'ready' | 'down' | 'ended' = 'connecting';
  /** Why the last connection failed or ended (redacted); null while the current one has not failed. */
  private lastError: string | null = null;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly messages = new Map<string, Buffer>();
  private readonly wanted: ReadonlySet<string>;
  private readonly waiters = new Set<() => void>();
  private readonly clientId = `homebridge-cctv-ui_${randomBytes(4).toString('hex')}`;
  private readonly redact: (text: string) => string;

  constructor(readonly key: string, private readonly target: RetainedTarget, private readonly settings: Settings) {
    this.wanted = new Set(target.topics);
    const secrets = [target.password ?? '', ...secretsInUrl(target.url)].filter((s) => s.length > 0);
    this.redact = (text) => redactSecrets(redactUrlsInText(text), secrets);
    this.attempt();
  }

  async answer(): Promise<RetainedRead> {
    if (this.pending) {
      await this.changed(this.settings.firstAnswerMs);
    }
    if (this.phase === 'ready') return { ok: true, messages: new Map(this.messages) };
    if (this.phase === 'ended') return { ok: false, message: 'closed' };
    return { ok: false, message: this.lastError ?? `no answer from the broker in ${this.settings.firstAnswerMs} ms` };
  }

  async end(): Promise<void> {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    clearTimeout(this.retryTimer);
    clearTimeout(this.settleTimer);
    this.notify();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      // A DISCONNECT, so the broker logs a clean goodbye (it resolves once the broker closed the socket).
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([client.endAsync(false), new Promise((resolve) => (bound = setTimeout(resolve, END_GRACE_MS)))]).catch(() => undefined);
      clearTimeout(bound);
    } else {
      await client.endAsync(true).catch(() => undefined);
    }
    // Whatever the end left half-open (a broker that never closed its side) goes now.
    client.stream?.destroy();
  }

  /**
   * An answer is on its way: connected and collecting the retained replies, or a first connect (a
   * reconnect after a failure is not waited for: the broker was down a moment ago, say so at once).
   */
  private get pending(): boolean {
    return (this.phase === 'connecting' && this.lastError === null) || this.phase === 'settling';
  }

  /** Resolves when no answer is pending any more, or after `ms`. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.pending) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve();
      }, ms);
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private attempt(): void {
    if (this.phase === 'ended') return;
    this.phase = 'connecting';
    const { target } = this;
    const options: IClientOptions = {
      clientId: this.clientId,
      clean: true,
      connectTimeout: this.settings.firstAnswerMs,
      // Reconnects are ours (bounded backoff, and a fresh subscription state each time).
      reconnectPeriod: 0,
      keepalive: 30,
      ...clientAuthOptions(target),
    };
    let client: MqttClient;
    try {
      client = connect(target.url, options);
    } catch (error) {
      this.lastError = this.redact(errorText(error));
      this.down();
      return;
    }
    this.client = client;
    client.on('error', (error) => {
      if (this.client !== client) return;
      const text = errorText(error);
      this.lastError = text === 'connack timeout' ? `no answer from the broker in ${this.settings.firstAnswerMs} ms` : this.redact(text);
      this.notify();
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.lastError ??= 'the broker closed the connection';
      this.dropped(client);
    });
    client.on('message', (topic, payload) => {
      if (this.client !== client || !this.wanted.has(topic)) return;
      if (payload.length === 0) this.messages.delete(topic);
      else this.messages.set(topic, payload);
      if (this.phase === 'settling' && this.allIn()) this.ready();
    });
    client.on('connect', () => {
      if (this.client !== client) return;
      this.lastError = null;
      // What the broker holds now comes again right after SUBACK; nothing from before is trusted.
      this.messages.clear();
      this.phase = 'settling';
      client.subscribe([...this.wanted], { qos: 0 }, (error, granted) => {
        if (this.client !== client) return;
        const refused = granted?.some((g) => g.qos === 128);
        if (error || refused) {
          this.lastError = error ? this.redact(`subscribe failed: ${errorText(error)}`) : 'the broker refused the subscription (check its ACL)';
          this.dropped(client);
          return;
        }
        if (this.allIn()) this.ready();
        else {
          this.settleTimer = setTimeout(() => this.ready(), this.settings.settleMs);
          this.settleTimer.unref();
        }
      });
    });
  }

  private ready(): void {
    if (this.phase !== 'settling') return;
    clearTimeout(this.settleTimer);
    this.phase = 'ready';
    this.failures = 0;
    this.notify();
  }

  /** This connection is over (closed by the broker, or of no use): its socket goes, a retry is planned. */
  private dropped(client: MqttClient): void {
    this.client = undefined;
    client.endAsync(true).then(() => client.stream?.destroy(), () => client.stream?.destroy());
    this.down();
  }

  private down(): void {
    if (this.phase === 'ended') return;
    clearTimeout(this.settleTimer);
    this.phase = 'down';
    this.notify();
    this.retryTimer = setTimeout(() => this.attempt(), reconnectDelayMs(this.failures++, this.settings.backoff));
    this.retryTimer.unref();
  }

  private allIn(): boolean {
    return [...this.wanted].every((t) => this.messages.has(t));
  }
}

function errorText(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(errorText).join('; ');
  return error instanceof Error ? error.message || error.name : String(error);
}
