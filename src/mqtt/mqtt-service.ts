/**
 * Everything the plugin says and hears over MQTT: availability, per-camera status/health, Home
 * Assistant discovery (re-sent when HA restarts, cleared for removed cameras) and the motion and
 * doorbell set topics. The broker is optional and never in the way: nothing here blocks or throws.
 */
import { readFileSync } from 'node:fs';
import type { CameraConfig, MqttConfig } from '../config/config-types.js';
import type { HealthState } from '../health/health-types.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { Log } from '../logging.js';
import { bridgeDiscovery, cameraDiscovery, discoveryTopicsFor, ownDiscoveryFilter, parseObjectId } from './discovery.js';
import { HealthPublisher } from './health-publisher.js';
import { LogThrottle } from './log-throttle.js';
import { MqttConnection } from './mqtt-connection.js';
import { parseSwitchPayload } from './payloads.js';
import { createTopics, setTopicFilter, type SetKind, type Topics } from './topics.js';

/** What a set command did: `unknown` camera, feature `unsupported` by it, `throttled` (doorbell too soon). */
export type CommandResult = 'done' | 'unknown' | 'unsupported' | 'throttled';

export interface MqttServiceInit {
  config: MqttConfig;
  cameras: readonly CameraConfig[];
  log: Log;
  version: string;
  /** Stable per plugin instance: the default client id and the Home Assistant node id. */
  instanceId: string;
  onCommand: (cameraId: string, kind: SetKind, value: boolean) => CommandResult;
  now?: () => number;
}

/** A `…/set` topic that keeps getting bad payloads is logged once a minute, not once a message. */
const IGNORED_LOG_WINDOW_MS = 60_000;
/** How long a removed camera's empty discovery configs may take to be acknowledged. */
const CLEAR_ACK_TIMEOUT_MS = 10_000;

export class MqttService {
  private readonly connection: MqttConnection;
  private readonly publisher: HealthPublisher;
  private readonly topics: Topics;
  private readonly ids: Set<string>;
  private readonly ignoredLog: LogThrottle;
  private readonly removing = new Set<string>();
  private published = new Set<string>();

  constructor(private readonly init: MqttServiceInit) {
    const c = init.config;
    this.topics = createTopics(c.topicPrefix, c.discoveryPrefix);
    this.ids = new Set(init.cameras.map((camera) => camera.id));
    this.ignoredLog = new LogThrottle({ windowMs: IGNORED_LOG_WINDOW_MS, ...(init.now ? { now: init.now } : {}) });
    this.connection = new MqttConnection({
      url: c.url,
      username: c.username || undefined,
      password: c.password || undefined,
      // Stable across restarts: the broker then ends our previous session when we reconnect,
      // instead of keeping it until its keepalive expires and publishing its stale last will.
      clientId: c.clientId || `homebridge-cctv_${init.instanceId}`,
      tls: c.tls ? { ...c.tls, ca: readOptional(c.tls.ca, init.log), cert: readOptional(c.tls.cert, init.log), key: readOptional(c.tls.key, init.log) } : undefined,
      availabilityTopic: this.topics.availability(),
      ...(c.keepaliveSeconds ? { keepaliveSeconds: c.keepaliveSeconds } : {}),
      log: init.log,
    });
    this.publisher = new HealthPublisher({ connection: this.connection, topics: this.topics });
  }

  start(): void {
    this.connection.subscribe(setTopicFilter(this.topics.prefix), (topic, payload) => this.onSet(topic, payload));
    if (this.init.config.homeAssistant) {
      this.publishDiscovery();
      this.connection.subscribe(this.topics.discoveryStatus(), (_topic, payload) => {
        if (payload.toString('utf8').trim().toLowerCase() === 'online') this.publishDiscovery();
      });
      // Only this instance's entries: retained configs of removed cameras are cleared as the broker replays them.
      this.connection.subscribe(ownDiscoveryFilter(this.init.instanceId, this.topics), (topic, payload) => this.onDiscoveryConfig(topic, payload));
    }
    this.connection.start();
  }

  publishHealth(cameraId: string, state: HealthState): void {
    this.publisher.publish(cameraId, state);
  }

  async close(): Promise<void> {
    this.publisher.close();
    await this.connection.close({ timeoutMs: 2000 });
  }

  private publishDiscovery(): void {
    const options = { instanceId: this.init.instanceId, topics: this.topics, swVersion: this.init.version };
    const messages = [bridgeDiscovery(options), ...this.init.cameras.flatMap((camera) => cameraDiscovery({ id: camera.id, name: camera.name, manufacturer: camera.manufacturer, model: camera.model }, options))];
    this.published = new Set(messages.map((m) => m.topic));
    for (const message of messages) this.connection.publishRetained(message.topic, JSON.stringify(message.payload));
  }

  private onDiscoveryConfig(topic: string, payload: Buffer): void {
    if (payload.length === 0 || this.published.has(topic)) return;
    const parsed = parseObjectId(topic.split('/').at(-2) ?? '');
    if (parsed && !this.ids.has(parsed.cameraId)) {
      this.removeCamera(parsed.cameraId);
      return;
    }
    // Ours, but not published by this version (an entity that no longer exists): remove it.
    this.connection.publishRetained(topic, '');
  }

  /**
   * A camera no longer configured leaves Home Assistant: its discovery configs first, its retained
   * status and health only once the broker has acknowledged those. Cleared the other way round, HA
   * would evaluate every entity's template on an empty payload and log an error per entity.
   */
  private removeCamera(id: string): void {
    if (this.removing.has(id)) return;
    this.removing.add(id);
    this.init.log.info(`MQTT: clearing Home Assistant discovery of removed camera "${id}"`);
    fireAndForget(this.init.log, `MQTT: clearing removed camera "${id}"`, async () => {
      const acks = await Promise.all(discoveryTopicsFor(id, this.init.instanceId, this.topics).map((stale) => this.connection.publishRetainedAcked(stale, '', CLEAR_ACK_TIMEOUT_MS)));
      this.removing.delete(id);
      if (!acks.every(Boolean)) return; // the broker may still hold them: keep the state HA reads
      this.connection.publishRetained(this.topics.status(id), '');
      this.connection.publishRetained(this.topics.health(id), '');
    });
  }

  private onSet(topic: string, payload: Buffer): void {
    const target = this.topics.parseSet(topic);
    if (!target) return;
    const text = payload.toString('utf8').slice(0, 64);
    const value = parseSwitchPayload(payload);
    if (value === undefined) {
      this.ignored(topic, `payload ${JSON.stringify(text)} is not ON/OFF/true/false/1/0`);
      return;
    }
    if (!this.ids.has(target.cameraId)) {
      this.ignored(topic, `no camera with id "${target.cameraId}"`);
      return;
    }
    switch (this.init.onCommand(target.cameraId, target.kind, value)) {
    case 'done':
      return;
    case 'unknown':
      this.ignored(topic, `no camera with id "${target.cameraId}"`);
      return;
    case 'unsupported':
      this.ignored(topic, `camera "${target.cameraId}" has ${target.kind} turned off in its config`);
      return;
    case 'throttled':
      this.init.log.debug(`MQTT: ignored ${topic}: the doorbell rang moments ago`);
      return;
    }
  }

  /** One warning per topic per minute, whatever the publisher keeps sending. */
  private ignored(topic: string, why: string): void {
    if (this.ignoredLog.allow(topic)) this.init.log.warn(`MQTT: ignored ${topic}: ${why} (repeats are not logged for a minute)`);
  }
}

function readOptional(path: string | undefined, log: Log): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    log.error(`MQTT: cannot read TLS file ${path}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}
