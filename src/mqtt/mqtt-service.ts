/**
 * Everything the plugin says and hears over MQTT: availability, per-camera status/health, Home
 * Assistant discovery (re-sent when HA restarts, cleared for removed cameras) and the motion and
 * doorbell set topics. The broker is optional and never in the way: nothing here blocks or throws.
 */
import { readFileSync } from 'node:fs';
import type { CameraConfig, MqttConfig } from '../config/config-types.js';
import type { HealthState } from '../health/health-types.js';
import type { Log } from '../logging.js';
import { recordingDiscovery, recordingDiscoveryTopic, recordingPayload, recordingTopic } from '../recording/recording-mqtt.js';
import type { RecordingState } from '../recording/recording-state.js';
import { bridgeDiscovery, cameraDiscovery, discoveryTopicsFor, nodeId } from './discovery.js';
import { HealthPublisher } from './health-publisher.js';
import { MqttConnection } from './mqtt-connection.js';
import { parseSwitchPayload } from './payloads.js';
import { createTopics, setTopicFilter, type SetKind, type Topics } from './topics.js';

export interface MqttServiceInit {
  config: MqttConfig;
  cameras: readonly CameraConfig[];
  log: Log;
  version: string;
  /** A set topic addressed a camera: returns false when that camera does not support it. */
  onCommand: (cameraId: string, kind: SetKind, value: boolean) => boolean;
}

export class MqttService {
  private readonly connection: MqttConnection;
  private readonly publisher: HealthPublisher;
  private readonly topics: Topics;
  private readonly ids: Set<string>;

  constructor(private readonly init: MqttServiceInit) {
    const c = init.config;
    this.topics = createTopics(c.topicPrefix, c.discoveryPrefix);
    this.ids = new Set(init.cameras.map((camera) => camera.id));
    this.connection = new MqttConnection({
      url: c.url,
      username: c.username || undefined,
      password: c.password || undefined,
      clientId: c.clientId || undefined,
      tls: c.tls ? { ...c.tls, ca: readOptional(c.tls.ca, init.log), cert: readOptional(c.tls.cert, init.log), key: readOptional(c.tls.key, init.log) } : undefined,
      availabilityTopic: this.topics.availability(),
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
      // Retained configs of cameras that are no longer configured are cleared as the broker replays them.
      this.connection.subscribe(`${this.topics.discoveryPrefix}/+/+/+/config`, (topic, payload) => this.onDiscoveryConfig(topic, payload));
    }
    this.connection.start();
  }

  publishHealth(cameraId: string, state: HealthState): void {
    this.publisher.publish(cameraId, state);
  }

  /** HomeKit Secure Video state of a recording camera (retained). */
  publishRecording(cameraId: string, state: RecordingState): void {
    this.connection.publishRetained(recordingTopic(this.topics, cameraId), recordingPayload(state));
  }

  async close(): Promise<void> {
    this.publisher.close();
    await this.connection.close({ timeoutMs: 2000 });
  }

  private publishDiscovery(): void {
    const options = { topics: this.topics, swVersion: this.init.version };
    const messages = [bridgeDiscovery(options), ...this.init.cameras.flatMap((camera) => cameraDiscovery({ id: camera.id, name: camera.name, manufacturer: camera.manufacturer, model: camera.model }, options))];
    for (const camera of this.init.cameras) if (camera.recording) messages.push(recordingDiscovery(camera, this.topics, this.init.version));
    for (const message of messages) this.connection.publishRetained(message.topic, JSON.stringify(message.payload));
  }

  private onDiscoveryConfig(topic: string, payload: Buffer): void {
    if (payload.length === 0) return;
    const node = topic.split('/').at(-3) ?? '';
    const match = /^cctv_([a-z0-9][a-z0-9_-]*)$/.exec(node);
    const id = match?.[1];
    if (!id || this.ids.has(id) || node !== nodeId(id)) return;
    this.init.log.info(`MQTT: clearing Home Assistant discovery of removed camera "${id}"`);
    for (const stale of discoveryTopicsFor(id, this.topics)) this.connection.publishRetained(stale, '');
    this.connection.publishRetained(this.topics.status(id), '');
    this.connection.publishRetained(this.topics.health(id), '');
    this.connection.publishRetained(recordingDiscoveryTopic(this.topics, id), '');
    this.connection.publishRetained(recordingTopic(this.topics, id), '');
  }

  private onSet(topic: string, payload: Buffer): void {
    const target = this.topics.parseSet(topic);
    if (!target) return;
    const text = payload.toString('utf8').slice(0, 64);
    const value = parseSwitchPayload(payload);
    if (value === undefined) {
      this.init.log.warn(`MQTT: ignored ${topic}: payload ${JSON.stringify(text)} is not ON/OFF/true/false/1/0`);
      return;
    }
    if (!this.ids.has(target.cameraId)) {
      this.init.log.warn(`MQTT: ignored ${topic}: no camera with id "${target.cameraId}"`);
      return;
    }
    if (!this.init.onCommand(target.cameraId, target.kind, value)) {
      this.init.log.warn(`MQTT: ignored ${topic}: camera "${target.cameraId}" has ${target.kind} turned off in its config`);
    }
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
