import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialHealth, reduceHealth } from '../../src/health/health-reducer.js';
import type { HealthState } from '../../src/health/health-types.js';
import { bridgeDiscovery, cameraDiscovery, discoveryTopicsFor } from '../../src/mqtt/discovery.js';
import { healthPayload, parseSwitchPayload, statusPayload } from '../../src/mqtt/payloads.js';
import { createTopics, isValidTopicPrefix, isValidTopicSegment, parseSetTopic, setTopicFilter, topicMatches } from '../../src/mqtt/topics.js';

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);

describe('topics', () => {
  const t = createTopics();
  const custom = createTopics('home/cctv', 'ha');
  const cases: [string, string, string][] = [
    ['availability', t.availability(), 'cctv/availability'],
    ['status', t.status('front'), 'cctv/front/status'],
    ['health', t.health('front_door-2'), 'cctv/front_door-2/health'],
    ['motion set', t.set('front', 'motion'), 'cctv/front/motion/set'],
    ['doorbell set', t.set('front', 'doorbell'), 'cctv/front/doorbell/set'],
    ['discovery status', t.discoveryStatus(), 'homeassistant/status'],
    ['discovery config', t.discoveryConfig('binary_sensor', 'cctv_front', 'connectivity'), 'homeassistant/binary_sensor/cctv_front/connectivity/config'],
    ['multi-level prefix', custom.health('front'), 'home/cctv/front/health'],
    ['custom discovery prefix', custom.discoveryConfig('sensor', 'n', 'o'), 'ha/sensor/n/o/config'],
    ['set filter', setTopicFilter('home/cctv'), 'home/cctv/+/+/set'],
  ];
  for (const [name, actual, expected] of cases) it(name, () => assert.equal(actual, expected));

  const parseCases: [string, string, ReturnType<typeof parseSetTopic>][] = [
    ['cctv', 'cctv/front/motion/set', { cameraId: 'front', kind: 'motion' }],
    ['cctv', 'cctv/front/doorbell/set', { cameraId: 'front', kind: 'doorbell' }],
    ['home/cctv', 'home/cctv/cam-1/motion/set', { cameraId: 'cam-1', kind: 'motion' }],
    ['cctv', 'cctv/front/siren/set', undefined],
    ['cctv', 'cctv/front/motion', undefined],
    ['cctv', 'cctv/front/motion/set/extra', undefined],
    ['cctv', 'other/front/motion/set', undefined],
    ['cctv', 'cctvx/front/motion/set', undefined],
    ['cctv', 'cctv//motion/set', undefined],
    ['cctv', 'cctv/a b/motion/set', undefined],
    ['cctv', 'cctv/front/status', undefined],
  ];
  for (const [prefix, topic, expected] of parseCases) {
    it(`parse ${topic} (prefix ${prefix})`, () => {
      assert.deepEqual(parseSetTopic(prefix, topic), expected);
      if (prefix === 'cctv') assert.deepEqual(t.parseSet(topic), expected);
    });
  }

  const segments: [string, boolean][] = [
    ['front', true],
    ['Front_Door-2', true],
    ['', false],
    ['a/b', false],
    ['+', false],
    ['#', false],
    ['a b', false],
    ['é', false],
    ['x'.repeat(64), true],
    ['x'.repeat(65), false],
  ];
  for (const [segment, valid] of segments) it(`segment ${JSON.stringify(segment)} valid=${valid}`, () => assert.equal(isValidTopicSegment(segment), valid));

  const prefixes: [string, boolean][] = [
    ['cctv', true],
    ['home/cctv', true],
    ['', false],
    ['/cctv', false],
    ['cctv/', false],
    ['a//b', false],
    ['cctv/+', false],
    ['cctv/#', false],
    ['$SYS', false],
    ['cc\0tv', false],
  ];
  for (const [prefix, valid] of prefixes) it(`prefix ${JSON.stringify(prefix)} valid=${valid}`, () => assert.equal(isValidTopicPrefix(prefix), valid));

  it('builders reject invalid ids and prefixes', () => {
    assert.throws(() => t.status('a/b'), TypeError);
    assert.throws(() => t.health('#'), TypeError);
    assert.throws(() => t.discoveryConfig('sensor', 'node', 'a+b'), TypeError);
    assert.throws(() => createTopics('cctv/#'), TypeError);
    assert.throws(() => createTopics('cctv', ''), TypeError);
  });

  const matches: [string, string, boolean][] = [
    ['cctv/+/+/set', 'cctv/front/motion/set', true],
    ['cctv/+/+/set', 'cctv/front/motion/get', false],
    ['cctv/#', 'cctv', true],
    ['cctv/#', 'cctv/a/b/c', true],
    ['homeassistant/status', 'homeassistant/status', true],
    ['homeassistant/status', 'homeassistant/status/x', false],
    ['+/status', '$SYS/status', false],
    ['#', '$SYS/broker', false],
    ['a/+', 'a', false],
  ];
  for (const [filter, topic, expected] of matches) it(`${filter} ~ ${topic} = ${expected}`, () => assert.equal(topicMatches(filter, topic), expected));
});

describe('payloads', () => {
  const online: HealthState = {
    ...reduceHealth(initialHealth(T0 - 60_000), { type: 'probe-ok', video: { codec: 'h264', width: 1920, height: 1080, fps: 15 } }, T0),
    viewers: 2,
    fps: 14.96,
    bitrateKbps: 2011.7,
    restarts: 1,
    timeToFirstFrameMs: 812.4,
  };

  it('health JSON has every field, ISO timestamps, rounded metrics', () => {
    assert.deepEqual(healthPayload(online, T0 + 5000), {
      state: 'online',
      reason: null,
      since: '2024-01-02T03:04:05.000Z',
      checkedAt: '2024-01-02T03:04:05.000Z',
      video: { codec: 'h264', width: 1920, height: 1080, fps: 15 },
      viewers: 2,
      fps: 15,
      bitrateKbps: 2012,
      restarts: 1,
      consecutiveFailures: 0,
      lastError: null,
      timeToFirstFrameMs: 812,
    });
  });

  it('a camera never checked uses now for checkedAt, and has null video', () => {
    const payload = healthPayload(initialHealth(T0), T0 + 1000);
    assert.equal(payload.checkedAt, new Date(T0 + 1000).toISOString());
    assert.equal(payload.since, new Date(T0).toISOString());
    assert.equal(payload.video, null);
    assert.equal(payload.state, 'starting');
  });

  it('is JSON-serialisable without loss', () => {
    const payload = healthPayload({ ...online, state: 'offline', reason: 'unauthorized', lastError: 'RTSP DESCRIBE 401 for rtsp://admin:***@cam/x' }, T0);
    assert.deepEqual(JSON.parse(JSON.stringify(payload)), payload);
  });

  const statuses: [HealthState['state'], 'online' | 'offline' | null][] = [
    ['starting', null],
    ['online', 'online'],
    ['degraded', 'online'],
    ['offline', 'offline'],
  ];
  for (const [state, expected] of statuses) it(`status for ${state} = ${expected}`, () => assert.equal(statusPayload({ ...online, state }), expected));

  const switches: [string | Uint8Array, boolean | undefined][] = [
    ['ON', true],
    ['on', true],
    [' On\n', true],
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['OFF', false],
    ['off', false],
    ['False', false],
    ['0', false],
    [new TextEncoder().encode('ON'), true],
    ['', undefined],
    ['yes', undefined],
    ['2', undefined],
    ['{"state":"ON"}', undefined],
  ];
  for (const [input, expected] of switches) it(`switch ${JSON.stringify(typeof input === 'string' ? input : 'bytes')} → ${expected}`, () => assert.equal(parseSwitchPayload(input), expected));
});

describe('Home Assistant discovery', () => {
  const topics = createTopics('cctv', 'homeassistant');
  const messages = cameraDiscovery({ id: 'front', name: 'Front Door', manufacturer: 'Hikvision', model: 'DS-2CD2143' }, { topics, swVersion: '0.1.0' });
  const byObject = new Map(messages.map((m) => [m.topic.split('/')[3], m]));

  it('one config per entity, on the documented topics', () => {
    assert.deepEqual(
      messages.map((m) => m.topic),
      [
        'homeassistant/binary_sensor/cctv_front/connectivity/config',
        'homeassistant/sensor/cctv_front/health/config',
        'homeassistant/sensor/cctv_front/fps/config',
        'homeassistant/sensor/cctv_front/bitrate/config',
        'homeassistant/sensor/cctv_front/viewers/config',
        'homeassistant/sensor/cctv_front/time_to_first_frame/config',
      ],
    );
    assert.deepEqual(discoveryTopicsFor('front', topics), messages.map((m) => m.topic));
  });

  it('connectivity binary sensor reads the status topic, attributes from health', () => {
    const p = byObject.get('connectivity')?.payload;
    assert.ok(p);
    assert.equal(p['device_class'], 'connectivity');
    assert.equal(p['entity_category'], 'diagnostic');
    assert.equal(p['state_topic'], 'cctv/front/status');
    assert.equal(p['payload_on'], 'online');
    assert.equal(p['payload_off'], 'offline');
    assert.equal(p['json_attributes_topic'], 'cctv/front/health');
    assert.equal(p['unique_id'], 'cctv_front_connectivity');
  });

  const sensors: [string, string, string | undefined, string | undefined][] = [
    ['fps', 'fps', 'fps', undefined],
    ['bitrate', 'bitrateKbps', 'kbit/s', 'data_rate'],
    ['viewers', 'viewers', undefined, undefined],
    ['time_to_first_frame', 'timeToFirstFrameMs', 'ms', 'duration'],
    ['health', 'state', undefined, 'enum'],
  ];
  for (const [object, field, unit, deviceClass] of sensors) {
    it(`sensor ${object} reads ${field} from the health JSON`, () => {
      const p = byObject.get(object)?.payload;
      assert.ok(p);
      assert.equal(p['state_topic'], 'cctv/front/health');
      assert.equal(p['value_template'], `{{ value_json.${field} }}`);
      assert.equal(p['unit_of_measurement'], unit);
      assert.equal(p['device_class'], deviceClass);
      assert.equal(p['unique_id'], `cctv_front_${object}`);
      assert.equal(p['entity_category'], 'diagnostic');
    });
  }

  it('every entity: same device, availability on the plugin topic, unique ids distinct', () => {
    const ids = new Set<unknown>();
    for (const { payload } of messages) {
      assert.deepEqual(payload['device'], {
        identifiers: ['cctv_front'],
        name: 'Front Door',
        manufacturer: 'Hikvision',
        model: 'DS-2CD2143',
        via_device: 'homebridge_cctv',
        sw_version: '0.1.0',
      });
      assert.deepEqual(payload['availability'], [{ topic: 'cctv/availability', payload_available: 'online', payload_not_available: 'offline' }]);
      assert.equal((payload['origin'] as Record<string, unknown>)['name'], 'homebridge-cctv');
      assert.equal(payload['object_id'], undefined, 'object_id is deprecated in HA');
      ids.add(payload['unique_id']);
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(payload)));
    }
    assert.equal(ids.size, messages.length);
  });

  it('defaults: manufacturer/model, default prefixes', () => {
    const [first] = cameraDiscovery({ id: 'garage', name: 'Garage' });
    assert.equal(first?.topic, 'homeassistant/binary_sensor/cctv_garage/connectivity/config');
    assert.equal((first?.payload['device'] as Record<string, unknown>)['manufacturer'], 'Homebridge CCTV');
  });

  it('bridge device: the via_device target, reading the availability topic', () => {
    const bridge = bridgeDiscovery({ topics });
    assert.equal(bridge.topic, 'homeassistant/binary_sensor/homebridge_cctv/connectivity/config');
    assert.deepEqual((bridge.payload['device'] as Record<string, unknown>)['identifiers'], ['homebridge_cctv']);
    assert.equal(bridge.payload['state_topic'], 'cctv/availability');
  });

  it('rejects camera ids that cannot be discovery node ids', () => {
    assert.throws(() => cameraDiscovery({ id: 'front door', name: 'x' }), TypeError);
  });
});
