/**
 * Home Assistant MQTT discovery, pure: one HA device per camera with a connectivity binary sensor
 * (its primary entity; attributes = the health JSON) and diagnostic sensors read from the health
 * JSON, all tied to the plugin's availability topic; plus a device for the plugin itself (the
 * cameras' `via_device`).
 *
 * Every config of one plugin instance sits under one node id, `cctv_<instance>`:
 *   <discoveryPrefix>/<component>/cctv_<instance>/<cameraId>_<object>/config
 * so the instance can subscribe to exactly its own entries (`<dp>/+/cctv_<instance>/+/config`) and
 * never clears those of another Homebridge sharing the broker. The plugin's own device is
 * `<dp>/binary_sensor/cctv_<instance>_plugin/connectivity/config`, outside that filter.
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
  /** The plugin instance's id (see platform/instance-id.ts): namespaces node and unique ids. */
  instanceId: string;
  topics?: Topics;
  /** Plugin version, for `origin` (what published the config; not the camera's firmware). */
  swVersion?: string;
  /** The plugin's homepage, for `origin.support_url`. */
  supportUrl?: string;
}

export interface DiscoveryMessage {
  topic: string;
  /** The config object; publish it JSON-encoded and retained. */
  payload: Record<string, unknown>;
}

const PLUGIN = 'homebridge-cctv';

/** Objects published per camera, in order; `discoveryTopicsFor` clears the same list. */
const CAMERA_OBJECTS = [
  { component: 'binary_sensor', object: 'connectivity' },
  { component: 'sensor', object: 'health' },
  { component: 'sensor', object: 'fps' },
  { component: 'sensor', object: 'bitrate' },
  { component: 'sensor', object: 'viewers' },
  { component: 'sensor', object: 'time_to_first_frame' },
  { component: 'sensor', object: 'decode_errors' },
] as const;

type CameraObject = (typeof CAMERA_OBJECTS)[number]['object'];

/** The node id every camera config of this instance sits under. */
export function nodeId(instanceId: string): string {
  return `cctv_${instanceId}`;
}

function pluginNode(instanceId: string): string {
  return `${nodeId(instanceId)}_plugin`;
}

/** The subscription filter matching exactly this instance's camera configs. */
export function ownDiscoveryFilter(instanceId: string, topics: Topics = createTopics()): string {
  return `${topics.discoveryPrefix}/+/${nodeId(instanceId)}/+/config`;
}

/** `<cameraId>_<object>` back to its parts; undefined for an object id this plugin never made. */
export function parseObjectId(objectId: string): { cameraId: string; object: CameraObject } | undefined {
  for (const { object } of CAMERA_OBJECTS) {
    const suffix = `_${object}`;
    if (objectId.length > suffix.length && objectId.endsWith(suffix)) return { cameraId: objectId.slice(0, -suffix.length), object };
  }
  return undefined;
}

/** What published the config (HA shows it in the entity's MQTT info): the plugin, never the camera. */
function origin(options: DiscoveryOptions): Record<string, unknown> {
  return { name: PLUGIN, ...(options.swVersion ? { sw_version: options.swVersion } : {}), ...(options.supportUrl ? { support_url: options.supportUrl } : {}) };
}

function availability(topics: Topics): Record<string, unknown>[] {
  return [{ topic: topics.availability(), payload_available: 'online', payload_not_available: 'offline' }];
}

/** A JSON field of the health payload; a null renders as "None", which HA shows as unknown. */
function field(name: string): string {
  return `{{ value_json.${name} }}`;
}

export function cameraDiscovery(camera: DiscoveryCamera, options: DiscoveryOptions): DiscoveryMessage[] {
  const topics = options.topics ?? createTopics();
  const node = nodeId(options.instanceId);
  const deviceId = `${node}_${camera.id}`;
  // No sw_version: the plugin's version is not the camera's firmware; it goes in `origin`.
  const device: Record<string, unknown> = {
    identifiers: [deviceId],
    name: camera.name,
    manufacturer: camera.manufacturer ?? 'Homebridge CCTV',
    model: camera.model ?? 'RTSP camera',
    via_device: pluginNode(options.instanceId),
  };
  const healthTopic = topics.health(camera.id);
  const common = (object: string, name: string): Record<string, unknown> => ({
    name,
    // No object_id (deprecated since HA 2025.10) nor default_entity_id (unknown to older HA):
    // HA derives the entity id from the device and entity names.
    unique_id: `${deviceId}_${object}`,
    device,
    origin: origin(options),
    availability: availability(topics),
  });
  const diagnostic = { entity_category: 'diagnostic' };

  const configs: Record<CameraObject, Record<string, unknown>> = {
    // The primary entity (no entity_category), so a default HA dashboard shows every camera.
    connectivity: {
      ...common('connectivity', 'Stream'),
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
    // FFmpeg's damaged-video messages in the health window: a graph of it shows when a camera's
    // link goes bad long before the state flips to degraded.
    decode_errors: {
      ...common('decode_errors', 'Decode errors'),
      ...diagnostic,
      state_topic: healthTopic,
      value_template: field('decodeErrors'),
      state_class: 'measurement',
      icon: 'mdi:image-broken-variant',
    },
  };
  return CAMERA_OBJECTS.map(({ component, object }) => ({
    topic: topics.discoveryConfig(component, node, `${camera.id}_${object}`),
    payload: configs[object],
  }));
}

/** The plugin itself as an HA device: its availability as a connectivity sensor. */
export function bridgeDiscovery(options: DiscoveryOptions): DiscoveryMessage {
  const topics = options.topics ?? createTopics();
  const node = pluginNode(options.instanceId);
  // The plugin is this device, so its version is this device's software version.
  const device: Record<string, unknown> = { identifiers: [node], name: 'Homebridge CCTV', manufacturer: 'Homebridge CCTV', model: PLUGIN };
  if (options.swVersion) device['sw_version'] = options.swVersion;
  return {
    topic: topics.discoveryConfig('binary_sensor', node, 'connectivity'),
    payload: {
      name: 'Plugin',
      unique_id: `${node}_connectivity`,
      device,
      origin: origin(options),
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: topics.availability(),
      payload_on: 'online',
      payload_off: 'offline',
    },
  };
}

/** Config topics of a camera; publish an empty retained payload to each to remove it from HA. */
export function discoveryTopicsFor(cameraId: string, instanceId: string, topics: Topics = createTopics()): string[] {
  const node = nodeId(instanceId);
  return CAMERA_OBJECTS.map(({ component, object }) => topics.discoveryConfig(component, node, `${cameraId}_${object}`));
}
