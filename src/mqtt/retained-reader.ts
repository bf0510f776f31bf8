/**
 * A one-shot, read-only MQTT client for the settings page's server: connect, subscribe to a few
 * exact topics, collect what the broker holds retained for them, disconnect. It never publishes
 * and has no last will, so it cannot disturb the plugin's availability; its client id is its own
 * (random), so it never takes over the plugin's session. Everything is bounded by one deadline and
 * the socket is always ended before the promise settles. Never rejects.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { redactSecrets, redactUrlsInText, secretsInUrl } from '../config/redact.js';

export interface RetainedReadInit {
  url: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Exact topics (no wildcards): the read ends as soon as each has answered. */
  topics: readonly string[];
  /** Bound on connect + subscribe + the retained replies (default 3000 ms). */
  timeoutMs?: number;
  /**
   * After the subscription is acknowledged, how long to wait for topics that hold nothing
   * retained (the broker sends retained messages right after SUBACK; default 500 ms).
   */
  settleMs?: number;
  signal?: AbortSignal;
}

export type RetainedRead =
  | { ok: true; messages: Map<string, Buffer> }
  /** `message` is redacted (no password, no URL userinfo). */
  | { ok: false; message: string };

export function readRetained(init: RetainedReadInit): Promise<RetainedRead> {
  const secrets = [init.password ?? '', ...secretsInUrl(init.url)].filter((s) => s.length > 0);
  const redact = (text: string): string => redactSecrets(redactUrlsInText(text), secrets);
  const timeoutMs = init.timeoutMs ?? 3000;
  const options: IClientOptions = {
    clientId: `homebridge-cctv-ui_${randomBytes(4).toString('hex')}`,
    clean: true,
    connectTimeout: timeoutMs,
    reconnectPeriod: 0,
    keepalive: 30,
  };
  if (init.username !== undefined) options.username = init.username;
  if (init.password !== undefined) options.password = init.password;
  if (init.tls) {
    if (init.tls.ca !== undefined) options.ca = init.tls.ca;
    if (init.tls.cert !== undefined) options.cert = init.tls.cert;
    if (init.tls.key !== undefined) options.key = init.tls.key;
    if (init.tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = init.tls.rejectUnauthorized;
  }
  if (init.signal?.aborted) return Promise.resolve({ ok: false, message: 'cancelled' });

  return new Promise<RetainedRead>((resolve) => {
    const messages = new Map<string, Buffer>();
    const wanted = new Set(init.topics);
    let client: MqttClient | undefined;
    let settled = false;
    let settleTimer: NodeJS.Timeout | undefined;
    const finish = (result: RetainedRead): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(settleTimer);
      init.signal?.removeEventListener('abort', onAbort);
      // Forced end: nothing is left to send, and it closes the socket at once.
      const ending = client ? client.endAsync(true) : Promise.resolve();
      ending.then(() => resolve(result), () => resolve(result));
    };
    const onAbort = (): void => finish({ ok: false, message: 'cancelled' });
    const deadline = setTimeout(() => finish({ ok: false, message: `no answer from the broker in ${timeoutMs} ms` }), timeoutMs);
    init.signal?.addEventListener('abort', onAbort, { once: true });
    const allIn = (): boolean => [...wanted].every((t) => messages.has(t));

    try {
      client = connect(init.url, options);
    } catch (error) {
      finish({ ok: false, message: redact(errorText(error)) });
      return;
    }
    client.on('error', (error) => finish({ ok: false, message: redact(errorText(error)) }));
    client.on('close', () => finish({ ok: false, message: 'the broker closed the connection' }));
    client.on('message', (topic, payload) => {
      if (!wanted.has(topic)) return;
      messages.set(topic, payload);
      if (settleTimer && allIn()) finish({ ok: true, messages });
    });
    client.on('connect', () => {
      if (wanted.size === 0) {
        finish({ ok: true, messages });
        return;
      }
      client?.subscribe([...wanted], { qos: 0 }, (error, granted) => {
        if (error) {
          finish({ ok: false, message: redact(`subscribe failed: ${errorText(error)}`) });
          return;
        }
        if (granted?.some((g) => g.qos === 128)) {
          finish({ ok: false, message: 'the broker refused the subscription (check its ACL)' });
          return;
        }
        if (allIn()) {
          finish({ ok: true, messages });
          return;
        }
        settleTimer = setTimeout(() => finish({ ok: true, messages }), init.settleMs ?? 500);
      });
    });
  });
}

function errorText(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(errorText).join('; ');
  return error instanceof Error ? error.message || error.name : String(error);
}
