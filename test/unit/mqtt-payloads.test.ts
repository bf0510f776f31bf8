import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialHealth, reduceHealth } from '../../src/health/health-reducer.js';
import type { HealthState } from '../../src/health/health-types.js';
import { bridgeDiscovery, cameraDiscovery, discoveryTopicsFor, ownDiscoveryFilter, parseObjectId } from '../../src/mqtt/discovery.js';
import { healthPayload, parseSwitchPayload, statusPayload } from '../../src/mqtt/payloads.js';
import { mqttSchema } from '../../src/config/schema.js';
import { createTopics, TOPIC_PREFIX_PATTERN, isValidTopicPrefix, isValidTopicSegment, parseSetTopic, setTopicFilter, topicMatches } from '../../src/mqtt/topics.js';

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
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
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
    ['$', false],
    ['home/$SYS', true],
    ['cc\0tv', false],
    ['my cctv', false],
    ['cctv\t', false],
    ['kamera/überwachung', true],
  ];
  for (const [prefix, valid] of prefixes) it(`prefix ${JSON.stringify(prefix)} valid=${valid}`, () => assert.equal(isValidTopicPrefix(prefix), valid));

  it('config.schema.json checks topic and discovery prefixes with the runtime rule', () => {
    const props = mqttSchema().properties ?? {};
    for (const key of ['topicPrefix', 'discoveryPrefix']) {
      const pattern = props[key]?.['pattern'];
      assert.equal(pattern, TOPIC_PREFIX_PATTERN, key);
      // ajv compiles patterns with the u flag; so does the runtime.
      const schemaRule = new RegExp(String(pattern), 'u');
      for (const [prefix, valid] of prefixes) assert.equal(schemaRule.test(prefix), valid, `${key} ${JSON.stringify(prefix)}`);
    }
  });

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
      health: 'online',
      reason: null,
      since: '2024-01-02T03:04:05.000Z',
      checkedAt: '2024-01-02T03:04:05.000Z',
      video: { codec: 'h264', width: 1920, height: 1080, fps: 15 },
      viewers: 2,
      fps: 15,
      bitrateKbps: 2012,
      restarts: 1,
      decodeErrors: 0,
      decodeErrorsTotal: 0,
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
  const INST = 'a1b2c3d4';
  const messages = cameraDiscovery({ id: 'front', name: 'Front Door', manufacturer: 'Hikvision', model: 'DS-2CD2143' }, { instanceId: INST, topics, swVersion: '0.1.0' });
  const byObject = new Map(messages.map((m) => [m.topic.split('/')[3]?.replace(/^front_/, ''), m]));

  it('one config per entity, all under the instance\'s node id', () => {
    assert.deepEqual(
      messages.map((m) => m.topic),
      [
        'homeassistant/binary_sensor/cctv_a1b2c3d4/front_connectivity/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_health/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_fps/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_bitrate/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_viewers/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_time_to_first_frame/config',
        'homeassistant/sensor/cctv_a1b2c3d4/front_decode_errors/config',
      ],
    );
    assert.deepEqual(discoveryTopicsFor('front', INST, topics), messages.map((m) => m.topic));
  });

  it('the own-entries filter matches this instance\'s camera configs only', () => {
    const filter = ownDiscoveryFilter(INST, topics);
    assert.equal(filter, 'homeassistant/+/cctv_a1b2c3d4/+/config');
    for (const m of messages) assert.ok(topicMatches(filter, m.topic), m.topic);
    const other = cameraDiscovery({ id: 'front', name: 'Front Door' }, { instanceId: 'ffff0000', topics });
    for (const m of other) assert.ok(!topicMatches(filter, m.topic), `another instance: ${m.topic}`);
    assert.ok(!topicMatches(filter, bridgeDiscovery({ instanceId: INST, topics }).topic), 'the plugin device is never cleared as a camera');
    // Two instances with the same camera id still have distinct unique ids.
    assert.notEqual(other[0]?.payload['unique_id'], messages[0]?.payload['unique_id']);
  });

  const objectIds: [string, ReturnType<typeof parseObjectId>][] = [
    ['front_connectivity', { cameraId: 'front', object: 'connectivity' }],
    ['front_door_fps', { cameraId: 'front_door', object: 'fps' }],
    ['x_health_time_to_first_frame', { cameraId: 'x_health', object: 'time_to_first_frame' }],
    ['yard_decode_errors', { cameraId: 'yard', object: 'decode_errors' }],
    ['a-b_health', { cameraId: 'a-b', object: 'health' }],
    ['_fps', undefined],
    ['connectivity', undefined],
    ['front_other', undefined],
  ];
  for (const [objectId, expected] of objectIds) it(`object id ${objectId}`, () => assert.deepEqual(parseObjectId(objectId), expected));

  it('connectivity binary sensor: the primary entity, reads the status topic, attributes from health', () => {
    const p = byObject.get('connectivity')?.payload;
    assert.ok(p);
    assert.equal(p['device_class'], 'connectivity');
    assert.equal(p['entity_category'], undefined, 'primary, so a default dashboard shows it');
    assert.equal(p['state_topic'], 'cctv/front/status');
    assert.equal(p['payload_on'], 'online');
    assert.equal(p['payload_off'], 'offline');
    assert.equal(p['json_attributes_topic'], 'cctv/front/health');
    assert.equal(p['unique_id'], 'cctv_a1b2c3d4_front_connectivity');
  });

  const sensors: [string, string, string | undefined, string | undefined][] = [
    ['fps', 'fps', 'fps', undefined],
    ['bitrate', 'bitrateKbps', 'kbit/s', 'data_rate'],
    ['viewers', 'viewers', undefined, undefined],
    ['time_to_first_frame', 'timeToFirstFrameMs', 'ms', 'duration'],
    ['decode_errors', 'decodeErrors', undefined, undefined],
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
      assert.equal(p['unique_id'], `cctv_a1b2c3d4_front_${object}`);
      assert.equal(p['entity_category'], 'diagnostic');
    });
  }

  it('every entity: same device (no plugin version as firmware), version in origin, availability on the plugin topic', () => {
    const ids = new Set<unknown>();
    for (const { payload } of messages) {
      assert.deepEqual(payload['device'], {
        identifiers: ['cctv_a1b2c3d4_front'],
        name: 'Front Door',
        manufacturer: 'Hikvision',
        model: 'DS-2CD2143',
        via_device: 'cctv_a1b2c3d4_plugin',
      });
      assert.deepEqual(payload['availability'], [{ topic: 'cctv/availability', payload_available: 'online', payload_not_available: 'offline' }]);
      assert.deepEqual(payload['origin'], { name: 'homebridge-cctv', sw_version: '0.1.0' });
      assert.equal(payload['object_id'], undefined, 'object_id is deprecated in HA');
      ids.add(payload['unique_id']);
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(payload)));
    }
    assert.equal(ids.size, messages.length);
  });

  it('origin carries the plugin\'s homepage as support_url when package.json has one, nothing invented otherwise', () => {
    const withUrl = cameraDiscovery({ id: 'front', name: 'F' }, { instanceId: INST, topics, swVersion: '0.1.0', supportUrl: 'https://example.org/cctv' });
    for (const { payload } of [...withUrl, bridgeDiscovery({ instanceId: INST, topics, swVersion: '0.1.0', supportUrl: 'https://example.org/cctv' })]) {
      assert.deepEqual(payload['origin'], { name: 'homebridge-cctv', sw_version: '0.1.0', support_url: 'https://example.org/cctv' });
    }
    assert.deepEqual(cameraDiscovery({ id: 'front', name: 'F' }, { instanceId: INST })[0]?.payload['origin'], { name: 'homebridge-cctv' });
  });

  it('defaults: manufacturer/model, default prefixes', () => {
    const [first] = cameraDiscovery({ id: 'garage', name: 'Garage' }, { instanceId: INST });
    assert.equal(first?.topic, 'homeassistant/binary_sensor/cctv_a1b2c3d4/garage_connectivity/config');
    assert.equal((first?.payload['device'] as Record<string, unknown>)['manufacturer'], 'Homebridge CCTV');
  });

  it('bridge device: the via_device target, reading the availability topic', () => {
    const bridge = bridgeDiscovery({ instanceId: INST, topics });
    assert.equal(bridge.topic, 'homeassistant/binary_sensor/cctv_a1b2c3d4_plugin/connectivity/config');
    assert.deepEqual((bridge.payload['device'] as Record<string, unknown>)['identifiers'], ['cctv_a1b2c3d4_plugin']);
    assert.equal(bridge.payload['state_topic'], 'cctv/availability');
  });

  it('rejects camera ids that cannot be discovery object ids', () => {
    assert.throws(() => cameraDiscovery({ id: 'front door', name: 'x' }, { instanceId: INST }), TypeError);
  });
});
