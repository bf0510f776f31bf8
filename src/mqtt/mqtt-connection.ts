/**
 * The plugin's MQTT.js adapter (with retained-watch.ts, the settings page's read-only view, the only
 * modules that import 'mqtt'). It owns what MQTT.js leaves to us:
 * - availability: LWT `offline` retained, `online` retained on every connect, `offline` on close;
 * - reconnects with capped, jittered exponential backoff (MQTT.js only has a fixed period), and the
 *   cap straight away when the broker refuses our credentials;
 * - retained state that never queues while offline: the latest payload per topic is kept and the
 *   whole set re-published on every connect (a restarted broker without persistence lost it);
 * - subscriptions re-made on every connect;
 * - our own availability watched: a stale `offline` (the last will of a previous session of ours
 *   that the broker only now gave up on) is answered with `online` at once;
 * - logging each distinct error once per outage, with the password and URL userinfo redacted.
 * Nothing here throws into the caller.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { redactSecrets, redactUrlsInText, secretsInUrl } from '../config/redact.js';
import { clientAuthOptions } from './client-auth.js';
import { topicMatches } from './topics.js';

export interface MqttLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface MqttBackoff {
  /** First reconnect delay (default 1000 ms); doubles per failed attempt. */
  baseMs: number;
  /** Upper bound (default 30 000 ms), also used at once after the broker refuses our credentials. */
  capMs: number;
  /** ± fraction of jitter (default 0.2); delays are clamped to the cap after jitter. */
  jitterRatio: number;
  /**
   * A connection must last this long (default 10 000 ms) before the backoff resets. Two instances
   * sharing a client id kick each other off right after CONNACK; without this they would
   * reconnect at the base delay forever.
   */
  stableMs: number;
}

export interface MqttConnectionOptions {
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean };
  availabilityTopic: string;
  log: MqttLogger;
  /** MQTT keepalive (default 30 s): how fast the broker notices a silently dead connection. */
  keepaliveSeconds?: number;
  /** Bound on TCP/TLS connect + CONNACK (default 10 s). */
  connectTimeoutMs?: number;
  backoff?: Partial<MqttBackoff>;
  /** For tests: the jitter source. */
  random?: () => number;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MqttConnectionEvents {
  /** Connected (and `online`, subscriptions and retained state sent): re-send discovery here. */
  connect: [];
  /** A connection that was up went down. */
  disconnect: [];
}

export const DEFAULT_MQTT_BACKOFF: Readonly<MqttBackoff> = Object.freeze({ baseMs: 1000, capMs: 30_000, jitterRatio: 0.2, stableMs: 10_000 });

/** CONNACK refusals that retrying sooner cannot fix: 3.1.1 codes 4/5, MQTT 5 reason codes 134/135/138. */
const REFUSED_CODES: ReadonlyMap<number, string> = new Map([
  [4, 'bad user name or password'],
  [5, 'not authorized'],
  [134, 'bad user name or password'],
  [135, 'not authorized'],
  [138, 'banned'],
]);

const ONLINE = 'online';
const OFFLINE = 'offline';
const MAX_DISTINCT_ERRORS = 32;

export class MqttConnection extends EventEmitter<MqttConnectionEvents> {
  private readonly options: MqttConnectionOptions;
  private readonly backoff: MqttBackoff;
  private readonly secrets: string[];
  private readonly retained = new Map<string, string | Buffer>();
  private readonly subscriptions = new Map<string, Set<MessageHandler>>();
  private readonly loggedErrors = new Set<string>();
  private client: MqttClient | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private refused = false;
  private connectedAt = 0;
  private wasConnected = false;
  private closing: Promise<void> | undefined;
  private attemptCount = 0;
  private connectCount = 0;

  constructor(options: MqttConnectionOptions) {
    super();
    this.options = options;
    this.backoff = { ...DEFAULT_MQTT_BACKOFF, ...options.backoff };
    this.secrets = [options.password ?? '', ...secretsInUrl(options.url)].filter((s) => s.length > 0);
    this.subscribe(options.availabilityTopic, (_topic, payload) => this.onOwnAvailability(payload));
  }

  /** Counts how often a stale `offline` was corrected (for tests and diagnostics). */
  reassertions = 0;

  /** Connection attempts so far (initial + reconnects), and successful connects. */
  get stats(): { attempts: number; connects: number } {
    return { attempts: this.attemptCount, connects: this.connectCount };
  }

  get connected(): boolean {
    return this.client?.connected === true && this.closing === undefined;
  }

  /** Start connecting (idempotent). Failures are logged and retried, never thrown. */
  start(): void {
    if (this.client || this.closing) return;
    const o = this.options;
    const clientOptions: IClientOptions = {
      clientId: o.clientId ?? `homebridge-cctv_${randomBytes(4).toString('hex')}`,
      clean: true,
      keepalive: o.keepaliveSeconds ?? 30,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 0, // we schedule reconnects ourselves (capped exponential backoff)
      resubscribe: false, // we re-subscribe on every connect
      queueQoSZero: false,
      will: { topic: o.availabilityTopic, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
      ...clientAuthOptions(o),
    };
    let client: MqttClient;
    try {
      this.attemptCount++;
      client = connect(o.url, clientOptions);
    } catch (err) {
      // A malformed URL or option: retrying cannot help, so say so once and stay down.
      this.options.log.error(`MQTT disabled: cannot connect to ${this.redact(o.url)}: ${this.redact(errorText(err))}`);
      return;
    }
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose());
    client.on('error', (err) => this.onError(err));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /**
   * Publish a retained value. Only the latest value per topic is kept while offline (bounded by
   * the number of topics) and everything kept is re-published on each connect. An empty payload
   * clears the retained message on the broker and is forgotten once sent.
   */
  publishRetained(topic: string, payload: string | Buffer): void {
    if (this.closing) return;
    this.retained.set(topic, payload);
    if (this.connected) this.send(topic, payload);
  }

  /**
   * Like publishRetained, and resolves true once the broker acknowledged it (false when not
   * connected, on an error, or after `timeoutMs`). For ordering: what must reach subscribers first.
   */
  publishRetainedAcked(topic: string, payload: string | Buffer, timeoutMs: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    this.retained.set(topic, payload);
    const client = this.client;
    if (!client?.connected) return Promise.resolve(false);
    const acked = new Promise<boolean>((resolve) => {
      client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        if (!err && payload.length === 0 && this.retained.get(topic) === payload) this.retained.delete(topic);
        resolve(!err);
      });
    });
    return boundedWait(acked, timeoutMs, undefined).then((ok) => ok === true);
  }

  /** Subscribe `handler` to a topic filter (wildcards allowed); kept across reconnects. Returns an unsubscribe function. */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let handlers = this.subscriptions.get(filter);
    if (!handlers) {
      handlers = new Set();
      this.subscriptions.set(filter, handlers);
      if (this.connected) this.subscribeOnBroker([filter]);
    }
    handlers.add(handler);
    return () => {
      const set = this.subscriptions.get(filter);
      if (!set?.delete(handler) || set.size > 0) return;
      this.subscriptions.delete(filter);
      if (this.connected) this.client?.unsubscribe(filter, (err) => err && this.onError(err));
    };
  }

  /**
   * Publish `offline` (retained), disconnect cleanly and stop reconnecting. Bounded by `timeoutMs`
   * (default 2000) and `signal`; after that the socket is dropped (the broker then publishes the
   * LWT, which says `offline` too). Never rejects; calling it again returns the same promise.
   */
  close(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? 2000, options.signal);
    return this.closing;
  }

  private async shutdown(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    if (!client) return;
    const deadline = Date.now() + timeoutMs;
    const bounded = <T>(promise: Promise<T>): Promise<T | undefined> => boundedWait(promise, deadline - Date.now(), signal);
    try {
      if (client.connected && !signal?.aborted) {
        await bounded(client.publishAsync(this.options.availabilityTopic, OFFLINE, { qos: 1, retain: true }).catch(() => undefined));
      }
      // A graceful DISCONNECT only makes sense on a live connection; otherwise just drop the socket.
      const ended = client.connected && !signal?.aborted ? await bounded(client.endAsync(false).then(() => true)) : undefined;
      if (ended !== true) await boundedWait(client.endAsync(true).then(() => true), 500, undefined);
    } catch (err) {
      this.logOnce('debug', `MQTT close: ${errorText(err)}`);
    }
    this.removeAllListeners();
  }

  private onConnect(client: MqttClient): void {
    if (this.closing) return;
    this.connectCount++;
    this.connectedAt = Date.now();
    this.wasConnected = true;
    this.refused = false;
    this.loggedErrors.clear(); // a new outage gets its errors logged again
    this.options.log.info(`MQTT connected to ${this.redact(this.options.url)}`);
    this.send(this.options.availabilityTopic, ONLINE);
    if (this.subscriptions.size > 0) this.subscribeOnBroker([...this.subscriptions.keys()]);
    for (const [topic, payload] of this.retained) this.send(topic, payload);
    if (client.connected) this.safeEmit('connect');
  }

  private onClose(): void {
    if (this.closing) return;
    if (this.wasConnected) {
      this.wasConnected = false;
      // Only a connection that lasted resets the backoff (see MqttBackoff.stableMs).
      if (Date.now() - this.connectedAt >= this.backoff.stableMs) this.failures = 0;
      this.safeEmit('disconnect');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.nextDelayMs();
    this.failures++;
    // Constant text so logOnce prints it once per outage; the per-attempt detail is debug only.
    this.logOnce('warn', `MQTT broker ${this.redact(this.options.url)} not connected; retrying with backoff (at most every ${this.backoff.capMs / 1000} s)`);
    this.options.log.debug(`MQTT reconnect attempt ${this.attemptCount + 1} in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closing || !this.client) return;
      this.attemptCount++;
      this.client.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private nextDelayMs(): number {
    const { baseMs, capMs, jitterRatio } = this.backoff;
    const base = this.refused ? capMs : Math.min(capMs, baseMs * 2 ** Math.min(this.failures, 30));
    const random = this.options.random ?? Math.random;
    const jittered = base * (1 + jitterRatio * (2 * random() - 1));
    return Math.round(Math.min(capMs, Math.max(0, jittered)));
  }

  private onError(err: Error): void {
    const code = (err as Error & { code?: unknown }).code;
    const refusal = typeof code === 'number' ? REFUSED_CODES.get(code) : undefined;
    if (refusal) {
      this.refused = true;
      this.logOnce('error', `MQTT broker ${this.redact(this.options.url)} refused the connection: ${refusal} (code ${String(code)}); check mqtt.username / mqtt.password. Retrying every ${this.backoff.capMs / 1000} s.`);
      return;
    }
    this.logOnce('warn', `MQTT error: ${this.redact(errorText(err))}`);
  }

  private onOwnAvailability(payload: Buffer): void {
    if (this.closing || !this.connected || payload.toString('utf8') !== OFFLINE) return;
    // We are connected, so this `offline` is stale: a previous session's last will (a crash or a
    // power cut, the broker noticing only after its keepalive) arriving after our `online`.
    this.reassertions++;
    this.logOnce('info', 'MQTT: a stale last will marked the plugin offline; re-published online');
    this.send(this.options.availabilityTopic, ONLINE);
  }

  private onMessage(topic: string, payload: Buffer): void {
    for (const [filter, handlers] of this.subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler(topic, payload);
        } catch (err) {
          const why = this.redact(errorText(err));
          this.logOnce('error', `MQTT handler for ${filter} failed (on ${topic}): ${why}`, `handler ${filter} ${why}`);
        }
      }
    }
  }

  private send(topic: string, payload: string | Buffer): void {
    const client = this.client;
    if (!client?.connected) return;
    // QoS 1 so the broker acknowledges; MQTT.js drops in-flight packets on our manual reconnect
    // (fresh stores), and the retained map re-sends the latest value anyway.
    client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
      if (err) {
        this.logOnce('debug', `MQTT publish to ${topic} not acknowledged: ${this.redact(errorText(err))}`);
        return;
      }
      if (payload.length === 0 && this.retained.get(topic) === payload) this.retained.delete(topic);
    });
  }

  private subscribeOnBroker(filters: string[]): void {
    this.client?.subscribe(filters, { qos: 1 }, (err, granted) => {
      if (err) {
        this.logOnce('warn', `MQTT subscribe failed: ${this.redact(errorText(err))}`);
        return;
      }
      for (const g of granted ?? []) {
        if (g.qos === 128) this.logOnce('warn', `MQTT broker refused the subscription to ${g.topic} (check its ACL)`);
      }
    });
  }

  /** A throwing listener must not unwind into MQTT.js's packet handling. */
  private safeEmit(event: keyof MqttConnectionEvents): void {
    try {
      this.emit(event);
    } catch (err) {
      this.logOnce('error', `MQTT ${event} listener failed: ${this.redact(errorText(err))}`);
    }
  }

  /** Log unless the same `key` (default: the message) was logged since the last successful connect. */
  private logOnce(level: keyof MqttLogger, message: string, key: string = message): void {
    if (this.loggedErrors.has(key)) return;
    if (this.loggedErrors.size >= MAX_DISTINCT_ERRORS) return; // a storm of distinct messages is still a storm
    this.loggedErrors.add(key);
    this.options.log[level](message);
  }

  private redact(text: string): string {
    return redactSecrets(redactUrlsInText(text), this.secrets);
  }
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorText).join('; ');
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Resolve with the value, or undefined when `ms` passes or `signal` aborts first. */
function boundedWait<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve) => {
    const done = (value: T | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onAbort = (): void => done(undefined);
    const timer = setTimeout(() => done(undefined), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(done, () => done(undefined));
  });
}
