/**
 * HomeKit Secure Video state over MQTT, pure: a retained JSON per recording camera on
 * `<prefix>/<id>/recording`, and a Home Assistant sensor (off / armed / recording) on the camera's
 * device whose attributes are that JSON.
 */
import { nodeId, type DiscoveryMessage, type DiscoveryOptions } from '../mqtt/discovery.js';
import { createTopics, isValidTopicSegment, type Topics } from '../mqtt/topics.js';
import type { RecordingState } from './recording-state.js';

export function recordingTopic(topics: Topics, cameraId: string): string {
  if (!isValidTopicSegment(cameraId)) throw new TypeError(`invalid MQTT camera id "${cameraId}"`);
  return `${topics.prefix}/${cameraId}/recording`;
}

export function recordingPayload(state: RecordingState): string {
  const status = state.recording ? 'recording' : state.armed ? 'armed' : 'off';
  return JSON.stringify({ status, armed: state.armed, recording: state.recording, mode: state.mode, lastCloseReason: state.lastCloseReason, clipsToday: state.clipsToday, day: state.day });
}

export function recordingDiscovery(camera: { id: string }, options: DiscoveryOptions): DiscoveryMessage {
  const topics = options.topics ?? createTopics();
  const node = nodeId(options.instanceId);
  // The camera's device id in cameraDiscovery: HA attaches the sensor to that device.
  const deviceId = `${node}_${camera.id}`;
  const topic = recordingTopic(topics, camera.id);
  return {
    topic: topics.discoveryConfig('sensor', node, `${camera.id}_recording`),
    payload: {
      name: 'HomeKit recording',
      unique_id: `${deviceId}_recording`,
      device: { identifiers: [deviceId] },
      origin: { name: 'homebridge-cctv', ...(options.swVersion ? { sw_version: options.swVersion } : {}) },
      availability: [{ topic: topics.availability(), payload_available: 'online', payload_not_available: 'offline' }],
      device_class: 'enum',
      options: ['off', 'armed', 'recording'],
      state_topic: topic,
      value_template: '{{ value_json.status }}',
      json_attributes_topic: topic,
      icon: 'mdi:record-rec',
    },
  };
}
