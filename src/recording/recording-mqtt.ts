/**
 * HomeKit Secure Video state over MQTT, pure: a retained JSON per recording camera on
 * `<prefix>/<id>/recording`, and a Home Assistant sensor (off / armed / recording) on the camera's
 * device whose attributes are that JSON.
 */
import { nodeId, type DiscoveryMessage } from '../mqtt/discovery.js';
import { isValidTopicSegment, type Topics } from '../mqtt/topics.js';
import type { RecordingState } from './recording-state.js';

export function recordingTopic(topics: Topics, cameraId: string): string {
  if (!isValidTopicSegment(cameraId)) throw new TypeError(`invalid MQTT camera id "${cameraId}"`);
  return `${topics.prefix}/${cameraId}/recording`;
}

export function recordingPayload(state: RecordingState): string {
  const status = state.recording ? 'recording' : state.armed ? 'armed' : 'off';
  return JSON.stringify({ status, armed: state.armed, recording: state.recording, mode: state.mode, lastCloseReason: state.lastCloseReason, clipsToday: state.clipsToday, day: state.day });
}

export function recordingDiscoveryTopic(topics: Topics, cameraId: string): string {
  return topics.discoveryConfig('sensor', nodeId(cameraId), 'recording');
}

export function recordingDiscovery(camera: { id: string }, topics: Topics, swVersion?: string): DiscoveryMessage {
  const node = nodeId(camera.id);
  const topic = recordingTopic(topics, camera.id);
  return {
    topic: recordingDiscoveryTopic(topics, camera.id),
    payload: {
      name: 'HomeKit recording',
      unique_id: `${node}_recording`,
      // Same identifiers as the camera's other entities: HA attaches it to that device.
      device: { identifiers: [node] },
      origin: { name: 'homebridge-cctv', ...(swVersion ? { sw_version: swVersion } : {}) },
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
