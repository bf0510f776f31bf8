/**
 * Home Assistant MQTT discovery, pure: one HA device per camera with a connectivity binary sensor
 * (attributes = the health JSON) and diagnostic sensors read from the health JSON, all tied to the
 * plugin's availability topic; plus a bridge device for the plugin itself (the cameras' `via_device`).
 */
import { createTopics } from './topics.js';
import type { Topics } from './topics.js';

export interface DiscoveryCamera {
  id: string;
  name: string;
  manufacturer?: string;
  model?: string;
}

export interface DiscoveryOptions {
  topics?: Topics;
  /** Plugin version for `sw_version` / `origin`. */
  swVersion?: string;
}

export interface DiscoveryMessage {
  topic: string;
  /** The config object; publish it JSON-encoded and retained. */
  payload: Record<string, unknown>;
}

const PLUGIN = 'homebridge-cctv';
// Camera nodes are all `cctv_<id>`, so this cannot collide with a camera called "bridge".
const BRIDGE_ID = 'homebridge_cctv';

/** Objects published per camera, in order; `discoveryTopicsFor` clears the same list. */
const CAMERA_OBJECTS = [
  { component: 'binary_sensor', object: 'connectivity' },
  { component: 'sensor', object: 'health' },
  { component: 'sensor', object: 'fps' },
  { component: 'sensor', object: 'bitrate' },
  { component: 'sensor', object: 'viewers' },
  { component: 'sensor', object: 'time_to_first_frame' },
] as const;

export function nodeId(cameraId: string): string {
  return `cctv_${cameraId}`;
}

function origin(swVersion: string | undefined): Record<string, unknown> {
  return { name: PLUGIN, ...(swVersion ? { sw_version: swVersion } : {}) };
}

function availability(topics: Topics): Record<string, unknown>[] {
  return [{ topic: topics.availability(), payload_available: 'online', payload_not_available: 'offline' }];
}

/** A JSON field of the health payload; a null renders as "None", which HA shows as unknown. */
function field(name: string): string {
  return `{{ value_json.${name} }}`;
}

export function cameraDiscovery(camera: DiscoveryCamera, options: DiscoveryOptions = {}): DiscoveryMessage[] {
  const topics = options.topics ?? createTopics();
  const node = nodeId(camera.id);
  const device: Record<string, unknown> = {
    identifiers: [node],
    name: camera.name,
    manufacturer: camera.manufacturer ?? 'Homebridge CCTV',
    model: camera.model ?? 'RTSP camera',
    via_device: BRIDGE_ID,
  };
  if (options.swVersion) device['sw_version'] = options.swVersion;
  const healthTopic = topics.health(camera.id);
  const common = (object: string, name: string): Record<string, unknown> => ({
    name,
    // No object_id (deprecated since HA 2025.10) nor default_entity_id (unknown to older HA):
    // HA derives the entity id from the device and entity names.
    unique_id: `${node}_${object}`,
    device,
    origin: origin(options.swVersion),
    availability: availability(topics),
  });
  const diagnostic = { entity_category: 'diagnostic' };

  const configs: Record<(typeof CAMERA_OBJECTS)[number]['object'], Record<string, unknown>> = {
    connectivity: {
      ...common('connectivity', 'Stream'),
      ...diagnostic,
      device_class: 'connectivity',
      state_topic: topics.status(camera.id),
      payload_on: 'online',
      payload_off: 'offline',
      json_attributes_topic: healthTopic,
    },
    health: {
      ...common('health', 'Stream health'),
      ...diagnostic,
      device_class: 'enum',
      options: ['starting', 'online', 'degraded', 'offline'],
      state_topic: healthTopic,
      value_template: field('state'),
      icon: 'mdi:cctv',
    },
    fps: {
      ...common('fps', 'Frame rate'),
      ...diagnostic,
      state_topic: healthTopic,
      value_template: field('fps'),
      unit_of_measurement: 'fps',
      state_class: 'measurement',
      icon: 'mdi:filmstrip',
    },
    bitrate: {
      ...common('bitrate', 'Bitrate'),
      ...diagnostic,
      device_class: 'data_rate',
      state_topic: healthTopic,
      value_template: field('bitrateKbps'),
      unit_of_measurement: 'kbit/s',
      state_class: 'measurement',
    },
    viewers: {
      ...common('viewers', 'Viewers'),
      ...diagnostic,
      state_topic: healthTopic,
      value_template: field('viewers'),
      state_class: 'measurement',
      icon: 'mdi:eye',
    },
    time_to_first_frame: {
      ...common('time_to_first_frame', 'Time to first frame'),
      ...diagnostic,
      device_class: 'duration',
      state_topic: healthTopic,
      value_template: field('timeToFirstFrameMs'),
      unit_of_measurement: 'ms',
      state_class: 'measurement',
    },
  };
  return CAMERA_OBJECTS.map(({ component, object }) => ({
    topic: topics.discoveryConfig(component, node, object),
    payload: configs[object],
  }));
}

/** The plugin itself as an HA device: its availability as a connectivity sensor. */
export function bridgeDiscovery(options: DiscoveryOptions = {}): DiscoveryMessage {
  const topics = options.topics ?? createTopics();
  const device: Record<string, unknown> = { identifiers: [BRIDGE_ID], name: 'Homebridge CCTV', manufacturer: 'Homebridge CCTV', model: PLUGIN };
  if (options.swVersion) device['sw_version'] = options.swVersion;
  return {
    topic: topics.discoveryConfig('binary_sensor', BRIDGE_ID, 'connectivity'),
    payload: {
      name: 'Plugin',
      unique_id: `${BRIDGE_ID}_connectivity`,
      device,
      origin: origin(options.swVersion),
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: topics.availability(),
      payload_on: 'online',
      payload_off: 'offline',
    },
  };
}

/** Config topics of a camera; publish an empty retained payload to each to remove it from HA. */
export function discoveryTopicsFor(cameraId: string, topics: Topics = createTopics()): string[] {
  const node = nodeId(cameraId);
  return CAMERA_OBJECTS.map(({ component, object }) => topics.discoveryConfig(component, node, object));
}
