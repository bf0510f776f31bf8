import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import type { ConfigIssue } from '../../src/config/config-types.js';
import { cameraSchema, loadUiSchema, mqttSchema, platformSchema, UI_KEYWORDS } from '../../src/config/schema.js';
import { cameraSubject, resolveConfig } from '../../src/config/validate-config.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** The example config from the product spec, verbatim. */
const SPEC_EXAMPLE = JSON.parse(`{ "platform": "CCTV", "name": "CCTV", "ffmpegPath": "/usr/bin/ffmpeg", "cameras": [ { "id": "front-door", "name": "Front Door", "source": "rtsp://user:pass@192.168.1.10:554/stream1", "snapshotSource": "http://192.168.1.10/snap.jpg", "rtspTransport": "tcp", "unbridge": true, "maxStreams": 4, "video": { "mode": "auto", "maxWidth": 1920, "maxHeight": 1080, "maxFps": 30, "maxBitrate": 2000, "encoder": "libx264" }, "audio": { "enabled": false, "codec": "auto" }, "motion": false, "doorbell": false } ], "mqtt": { "url": "mqtt://127.0.0.1:1883", "username": "", "password": "", "topicPrefix": "cctv" } }`) as Record<string, unknown>;

const PASSWORD = 'hunter2';
const MQTT_PASSWORD = 'mqtt-s3cret';
const GOOD = { id: 'good', name: 'Good', source: `rtsp://admin:${PASSWORD}@192.168.1.20:554/s` };

const CAMERA_DEFAULTS = {
  substreams: [],
  rtspTransport: 'tcp',
  unbridge: true,
  maxStreams: 4,
  prebuffer: false,
  video: { mode: 'auto', maxWidth: 1920, maxHeight: 1080, maxFps: 30, maxBitrate: 2000, encoder: 'libx264', copySender: 'node' },
  audio: { enabled: false, codec: 'auto' },
  motion: false,
  motionTimeoutSeconds: 30,
  doorbell: false,
  doorbellMinIntervalSeconds: 5,
  recording: false,
};

const PLATFORM_DEFAULTS = { name: 'CCTV', debug: false, probeIntervalSeconds: 10, sourceLingerSeconds: 30, cameras: [] };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]/;

function assertWellFormed(issues: readonly ConfigIssue[]): void {
  for (const issue of issues) {
    assert.ok(['platform', 'camera', 'mqtt'].includes(issue.scope), `scope ${issue.scope}`);
    assert.ok(['error', 'warning'].includes(issue.severity), `severity ${issue.severity}`);
    for (const key of ['subject', 'field', 'message'] as const) {
      assert.equal(typeof issue[key], 'string', key);
      assert.ok(issue[key].length > 0, `${key} is empty in ${JSON.stringify(issue)}`);
    }
    assert.ok(!CONTROL.test(issue.subject), `control character in subject ${JSON.stringify(issue.subject)}`);
    assert.ok(!CONTROL.test(issue.field), `control character in field ${JSON.stringify(issue.field)}`);
    assert.ok(issue.subject.length <= 100, 'subject is bounded');
  }
}

function assertNoSecrets(issues: readonly ConfigIssue[], secrets: readonly string[] = [PASSWORD, MQTT_PASSWORD]): void {
  const text = JSON.stringify(issues);
  for (const secret of secrets) assert.ok(!text.includes(secret), `"${secret}" appears in ${text}`);
}

describe('defaults', () => {
  it('an empty platform gets every platform default and no issues', () => {
    const { config, issues } = resolveConfig({ platform: 'CCTV' });
    assert.deepEqual(issues, []);
    assert.deepEqual({ ...config, platform: undefined }, { ...PLATFORM_DEFAULTS, platform: undefined });
    assert.equal(config.mqtt, undefined);
    assert.equal(config.ffmpegPath, undefined);
  });

  it('a minimal camera gets every camera default', () => {
    const { config, issues } = resolveConfig({ cameras: [{ id: 'cam', name: 'Cam', source: 'rtsp://h/x' }] });
    assert.deepEqual(issues, []);
    assert.deepEqual(config.cameras, [{ id: 'cam', name: 'Cam', source: 'rtsp://h/x', ...CAMERA_DEFAULTS }]);
  });

  it('partial video/audio objects are completed', () => {
    const { config } = resolveConfig({ cameras: [{ ...GOOD, video: { maxFps: 15 }, audio: { enabled: true } }] });
    assert.deepEqual(config.cameras[0]?.video, { ...CAMERA_DEFAULTS.video, maxFps: 15 });
    assert.deepEqual(config.cameras[0]?.audio, { enabled: true, codec: 'auto' });
  });

  it('mqtt defaults: topicPrefix, homeAssistant, discoveryPrefix (and TLS verification when tls is given)', () => {
    assert.deepEqual(resolveConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' } }).config.mqtt, {
      url: 'mqtt://127.0.0.1:1883', topicPrefix: 'cctv', homeAssistant: true, discoveryPrefix: 'homeassistant',
    });
    assert.deepEqual(resolveConfig({ mqtt: { url: 'mqtts://b', tls: {} } }).config.mqtt?.tls, { rejectUnauthorized: true });
  });

  it('empty ffmpegPath and snapshotSource mean "not set"', () => {
    const { config, issues } = resolveConfig({ ffmpegPath: '', cameras: [{ ...GOOD, snapshotSource: '' }] });
    assert.equal('ffmpegPath' in config, false);
    assert.deepEqual(issues, []);
    assert.equal(config.cameras.length, 1, 'the camera is kept');
    assert.equal('snapshotSource' in (config.cameras[0] ?? {}), false);
  });

  it('an empty mqtt object means "no MQTT", silently', () => {
    const { config, issues } = resolveConfig({ mqtt: {} });
    assert.equal(config.mqtt, undefined);
    assert.deepEqual(issues, []);
  });

  it('mqtt.enabled: the defaults the Homebridge UI saves mean off, silently; enabled false is off; enabled true needs a url', () => {
    const uiDefaults = { topicPrefix: 'cctv', homeAssistant: true, discoveryPrefix: 'homeassistant', url: '', tls: { rejectUnauthorized: true } };
    for (const mqtt of [uiDefaults, { ...uiDefaults, enabled: false }, { url: 'mqtt://h', enabled: false, topicPrefix: 'bad/' }]) {
      const { config, issues } = resolveConfig({ cameras: [GOOD], mqtt });
      assert.equal(config.mqtt, undefined, JSON.stringify(mqtt));
      assert.deepEqual(issues, [], JSON.stringify(mqtt));
    }
    const on = resolveConfig({ mqtt: { url: 'mqtt://h', enabled: true } });
    assert.deepEqual([on.config.mqtt?.url, 'enabled' in (on.config.mqtt ?? {}), on.issues], ['mqtt://h', false, []]);
    const noUrl = resolveConfig({ mqtt: { topicPrefix: 'cctv', enabled: true } });
    assert.equal(noUrl.config.mqtt, undefined);
    assert.deepEqual(noUrl.issues.map((i) => [i.field, i.message]), [['mqtt.url', 'is required']]);
  });

  it('prefixes the topics would reject are config errors that disable MQTT only', () => {
    for (const topicPrefix of ['cctv/', '/cctv', 'a//b', '$SYS', 'my cctv']) {
      const { config, issues } = resolveConfig({ cameras: [GOOD], mqtt: { url: 'mqtt://h', topicPrefix, discoveryPrefix: topicPrefix } });
      assert.equal(config.mqtt, undefined, topicPrefix);
      assert.equal(config.cameras.length, 1, 'the camera still loads');
      assert.deepEqual(issues.map((i) => i.field).sort(), ['mqtt.discoveryPrefix', 'mqtt.topicPrefix'], topicPrefix);
    }
  });

  it('does not modify its input', () => {
    const raw = { cameras: [{ id: 'cam', name: 'Cam', source: 'rtsp://h/x' }], mqtt: { url: 'mqtt://h' } };
    const copy = structuredClone(raw);
    resolveConfig(raw);
    assert.deepEqual(raw, copy);
  });
});

describe('the spec example', () => {
  it('resolves with no issues and keeps every value', () => {
    const { config, issues } = resolveConfig(SPEC_EXAMPLE);
    assert.deepEqual(issues, []);
    assert.equal(config.name, 'CCTV');
    assert.equal(config.ffmpegPath, '/usr/bin/ffmpeg');
    assert.equal(config.cameras.length, 1);
    const cam = config.cameras[0];
    assert.ok(cam);
    assert.equal(cam.id, 'front-door');
    assert.equal(cam.snapshotSource, 'http://192.168.1.10/snap.jpg');
    assert.deepEqual(cam.video, { mode: 'auto', maxWidth: 1920, maxHeight: 1080, maxFps: 30, maxBitrate: 2000, encoder: 'libx264', copySender: 'node' });
    assert.equal(cam.motionTimeoutSeconds, 30);
    assert.deepEqual(config.mqtt, {
      url: 'mqtt://127.0.0.1:1883', username: '', password: '', topicPrefix: 'cctv', homeAssistant: true, discoveryPrefix: 'homeassistant',
    });
  });

  it('the schema compiles (strict, with the UI keywords) and accepts the example as a whole', () => {
    const ui = loadUiSchema();
    assert.equal(ui.pluginAlias, 'CCTV');
    assert.equal(ui.pluginAlias, SPEC_EXAMPLE.platform);
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    for (const keyword of UI_KEYWORDS) ajv.addKeyword({ keyword, schemaType: ['string', 'object', 'array', 'boolean'] });
    const validate = ajv.compile(ui.schema);
    assert.equal(validate(structuredClone(SPEC_EXAMPLE)), true, JSON.stringify(validate.errors));
    for (const part of [platformSchema(), cameraSchema(), mqttSchema()]) assert.doesNotThrow(() => ajv.compile(part));
  });

  it('every default in the schema is itself valid', () => {
    const ajv = new Ajv({ strict: false });
    for (const keyword of UI_KEYWORDS) ajv.addKeyword({ keyword, schemaType: ['string', 'object', 'array', 'boolean'] });
    const walk = (schema: Record<string, unknown>, path: string): void => {
      if ('default' in schema) assert.ok(ajv.validate(schema, schema.default), `${path} default ${JSON.stringify(schema.default)}`);
      for (const [key, value] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(value, `${path}.${key}`);
      if (schema.items) walk(schema.items as Record<string, unknown>, `${path}[]`);
    };
    walk(loadUiSchema().schema, 'schema');
  });
});

describe('bad cameras are reported and skipped, the others load', () => {
  const cases: Array<{ name: string; camera: unknown; subject: string; field: string; message: RegExp }> = [
    { name: 'missing id', camera: { name: 'Porch', source: 'rtsp://h/x' }, subject: 'camera "Porch" (#1)', field: 'id', message: /is required/ },
    { name: 'missing name (subject from id)', camera: { id: 'porch', source: 'rtsp://h/x' }, subject: 'camera "porch" (#1)', field: 'name', message: /is required/ },
    { name: 'missing source', camera: { id: 'porch', name: 'Porch' }, subject: 'camera "Porch" (#1)', field: 'source', message: /is required/ },
    { name: 'nothing usable to name it', camera: { source: 'rtsp://h/x' }, subject: 'camera #1', field: 'id', message: /is required/ },
    { name: 'uppercase id', camera: { id: 'Porch', name: 'Porch', source: 'rtsp://h/x' }, subject: 'camera "Porch" (#1)', field: 'id', message: /lowercase letters/ },
    { name: 'id too long', camera: { id: 'a'.repeat(64), name: 'P', source: 'rtsp://h/x' }, subject: 'camera "P" (#1)', field: 'id', message: /at most 63/ },
    { name: 'blank name', camera: { id: 'p', name: '   ', source: 'rtsp://h/x' }, subject: 'camera "p" (#1)', field: 'name', message: /visible character/ },
    { name: 'http source', camera: { id: 'p', name: 'P', source: `http://admin:${PASSWORD}@h/x` }, subject: 'camera "P" (#1)', field: 'source', message: /rtsp:\/\/ or rtsps:\/\// },
    { name: 'source with a space', camera: { id: 'p', name: 'P', source: `rtsp://admin:${PASSWORD} x@h/x` }, subject: 'camera "P" (#1)', field: 'source', message: /without spaces/ },
    { name: 'source not a string', camera: { id: 'p', name: 'P', source: 5 }, subject: 'camera "P" (#1)', field: 'source', message: /must be string/ },
    { name: 'bad snapshotSource', camera: { ...GOOD, snapshotSource: `ftp://admin:${PASSWORD}@h/s.jpg` }, subject: 'camera "Good" (#1)', field: 'snapshotSource', message: /http\(s\):\/\// },
    { name: 'rtspTransport', camera: { ...GOOD, rtspTransport: 'http' }, subject: 'camera "Good" (#1)', field: 'rtspTransport', message: /must be one of "tcp", "udp"/ },
    { name: 'maxStreams 0', camera: { ...GOOD, maxStreams: 0 }, subject: 'camera "Good" (#1)', field: 'maxStreams', message: />= 1/ },
    { name: 'maxStreams 2.5', camera: { ...GOOD, maxStreams: 2.5 }, subject: 'camera "Good" (#1)', field: 'maxStreams', message: /must be integer/ },
    { name: 'unbridge "yes"', camera: { ...GOOD, unbridge: 'yes' }, subject: 'camera "Good" (#1)', field: 'unbridge', message: /must be boolean/ },
    { name: 'video.maxFps 0', camera: { ...GOOD, video: { maxFps: 0 } }, subject: 'camera "Good" (#1)', field: 'video.maxFps', message: />= 1/ },
    { name: 'video.maxWidth too big', camera: { ...GOOD, video: { maxWidth: 7680 } }, subject: 'camera "Good" (#1)', field: 'video.maxWidth', message: /<= 3840/ },
    { name: 'video.mode', camera: { ...GOOD, video: { mode: 'fast' } }, subject: 'camera "Good" (#1)', field: 'video.mode', message: /"auto", "copy", "transcode"/ },
    { name: 'video.encoder', camera: { ...GOOD, video: { encoder: 'x264; rm -rf /' } }, subject: 'camera "Good" (#1)', field: 'video.encoder', message: /must be one of/ },
    { name: 'video null', camera: { ...GOOD, video: null }, subject: 'camera "Good" (#1)', field: 'video', message: /must be object/ },
    { name: 'audio.codec', camera: { ...GOOD, audio: { codec: 'mp3' } }, subject: 'camera "Good" (#1)', field: 'audio.codec', message: /"auto", "opus", "aac-eld"/ },
    { name: 'motionTimeoutSeconds', camera: { ...GOOD, motionTimeoutSeconds: 0 }, subject: 'camera "Good" (#1)', field: 'motionTimeoutSeconds', message: />= 1/ },
    { name: 'not an object', camera: 'rtsp://h/x', subject: 'camera #1', field: '(root)', message: /must be an object/ },
    { name: 'null entry', camera: null, subject: 'camera #1', field: '(root)', message: /must be an object/ },
    { name: 'array entry', camera: [GOOD], subject: 'camera #1', field: '(root)', message: /must be an object/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const other = { id: 'other', name: 'Other', source: 'rtsp://h/other' };
      const { config, issues } = resolveConfig({ cameras: [c.camera, other] });
      assertWellFormed(issues);
      assertNoSecrets(issues);
      const errors = issues.filter((i) => i.severity === 'error');
      assert.ok(errors.length >= 1);
      for (const e of errors) {
        assert.equal(e.scope, 'camera');
        assert.equal(e.subject, c.subject);
      }
      const issue = errors.find((e) => e.field === c.field);
      assert.ok(issue, `no issue on ${c.field}: ${JSON.stringify(issues)}`);
      assert.match(issue.message, c.message);
      assert.deepEqual(config.cameras.map((x) => x.id), ['other'], 'the bad camera is skipped, the other loads');
    });
  }

  it('every problem of one camera is listed once', () => {
    const { issues } = resolveConfig({ cameras: [{ id: 'X', name: '', source: 'http://h', maxStreams: 99, video: { maxFps: 0 } }] });
    assert.deepEqual([...new Set(issues.map((i) => i.field))].sort(), ['id', 'maxStreams', 'name', 'source', 'video.maxFps']);
    assert.equal(issues.filter((i) => i.field === 'name').length, 2, 'an empty name is both too short and invisible');
    assert.equal(new Set(issues.map((i) => `${i.field}|${i.message}`)).size, issues.length);
  });

  it('positions count every entry, good or bad', () => {
    const { config, issues } = resolveConfig({ cameras: [GOOD, 5, { id: 'b', source: 'rtsp://h/b' }, { ...GOOD, id: 'c', name: 'C' }] });
    assert.deepEqual(issues.map((i) => i.subject), ['camera #2', 'camera "b" (#3)']);
    assert.deepEqual(config.cameras.map((c) => c.id), ['good', 'c']);
  });
});

describe('duplicate ids', () => {
  it('the second camera with an id is skipped and names the first', () => {
    const { config, issues } = resolveConfig({
      cameras: [GOOD, { ...GOOD, name: 'Second' }, { ...GOOD, id: 'third', name: 'Third' }, { ...GOOD, name: 'Fourth' }],
    });
    assert.deepEqual(config.cameras.map((c) => c.name), ['Good', 'Third']);
    assert.deepEqual(issues.map((i) => [i.subject, i.field, i.severity]), [
      ['camera "Second" (#2)', 'id', 'error'],
      ['camera "Fourth" (#4)', 'id', 'error'],
    ]);
    assert.match(issues[0]?.message ?? '', /"good" is already used by camera "Good" \(#1\)/);
    assertNoSecrets(issues);
  });

  it('an invalid camera does not reserve its id', () => {
    const { config } = resolveConfig({ cameras: [{ ...GOOD, maxStreams: 0 }, GOOD] });
    assert.deepEqual(config.cameras.map((c) => c.id), ['good']);
  });
});

describe('unknown keys', () => {
  it('warn but keep the camera (and the key)', () => {
    const { config, issues } = resolveConfig({ cameras: [{ ...GOOD, stream: 'x', videoConfig: { source: '-i rtsp://x' } }] });
    assert.equal(config.cameras.length, 1);
    assert.deepEqual(issues.map((i) => [i.scope, i.subject, i.field, i.severity]), [
      ['camera', 'camera "Good" (#1)', 'stream', 'warning'],
      ['camera', 'camera "Good" (#1)', 'videoConfig', 'warning'],
    ]);
    assert.match(issues[0]?.message ?? '', /not a known setting/);
    assert.equal((config.cameras[0] as unknown as Record<string, unknown>).stream, 'x');
  });

  it('a hostile key cannot forge a log line or leak a password', () => {
    const { issues } = resolveConfig({ cameras: [{ ...GOOD, 'x\n[CCTV] fake line\u2028': 1, [`rtsp://admin:${PASSWORD}@h/`]: 1, '': 1 }] });
    assert.equal(issues.length, 3);
    assertWellFormed(issues);
    assertNoSecrets(issues);
  });

  it('unknown platform-level keys (Homebridge adds its own) are kept silently', () => {
    const { config, issues } = resolveConfig({ platform: 'CCTV', _bridge: { username: 'AA:BB' } });
    assert.deepEqual(issues, []);
    assert.equal((config as unknown as Record<string, unknown>).platform, 'CCTV');
  });
});

describe('garbage never throws', () => {
  const inputs: Array<[string, unknown, string | undefined]> = [
    ['null', null, '(root)'],
    ['undefined', undefined, '(root)'],
    ['5', 5, '(root)'],
    ['"x"', 'x', '(root)'],
    ['true', true, '(root)'],
    ['[]', [], '(root)'],
    ['[config]', [SPEC_EXAMPLE], '(root)'],
    ['cameras: "x"', { cameras: 'x' }, 'cameras'],
    ['cameras: {}', { cameras: { id: 'a' } }, 'cameras'],
    ['cameras: null', { cameras: null }, 'cameras'],
    ['cameras: 0', { cameras: 0 }, 'cameras'],
    ['cameras: [[], null, 1, "x"]', { cameras: [[], null, 1, 'x'] }, '(root)'],
  ];
  for (const [name, raw, field] of inputs) {
    it(name, () => {
      const { config, issues } = resolveConfig(raw);
      assertWellFormed(issues);
      assert.deepEqual(config.cameras, []);
      assert.equal(config.name, 'CCTV');
      assert.equal(config.debug, false);
      if (field) assert.ok(issues.some((i) => i.field === field && i.severity === 'error'), JSON.stringify(issues));
    });
  }
});

describe('platform-level bad values fall back to defaults', () => {
  const cases: Array<{ raw: Record<string, unknown>; field: string; key: keyof typeof PLATFORM_DEFAULTS | 'ffmpegPath'; message: RegExp }> = [
    { raw: { name: 5 }, field: 'name', key: 'name', message: /must be string/ },
    { raw: { name: '' }, field: 'name', key: 'name', message: /fewer than 1|must NOT have/ },
    { raw: { name: 'n'.repeat(65) }, field: 'name', key: 'name', message: /more than 64/ },
    { raw: { debug: 'yes' }, field: 'debug', key: 'debug', message: /must be boolean/ },
    { raw: { probeIntervalSeconds: 1 }, field: 'probeIntervalSeconds', key: 'probeIntervalSeconds', message: />= 2/ },
    { raw: { probeIntervalSeconds: 3601 }, field: 'probeIntervalSeconds', key: 'probeIntervalSeconds', message: /<= 3600/ },
    { raw: { probeIntervalSeconds: 10.5 }, field: 'probeIntervalSeconds', key: 'probeIntervalSeconds', message: /must be integer/ },
    { raw: { probeIntervalSeconds: '10' }, field: 'probeIntervalSeconds', key: 'probeIntervalSeconds', message: /must be integer/ },
    { raw: { sourceLingerSeconds: -1 }, field: 'sourceLingerSeconds', key: 'sourceLingerSeconds', message: />= 0/ },
    { raw: { ffmpegPath: 5 }, field: 'ffmpegPath', key: 'ffmpegPath', message: /must be string/ },
    { raw: { ffmpegPath: '/x'.repeat(600) }, field: 'ffmpegPath', key: 'ffmpegPath', message: /more than 1024/ },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.raw).slice(0, 60), () => {
      const { config, issues } = resolveConfig({ ...c.raw, debug: c.raw.debug ?? true, cameras: [GOOD] });
      assertWellFormed(issues);
      assert.equal(issues.length, 1, JSON.stringify(issues));
      assert.deepEqual([issues[0]?.scope, issues[0]?.subject, issues[0]?.field], ['platform', 'platform', c.field]);
      assert.match(issues[0]?.message ?? '', c.message);
      const defaults: Record<string, unknown> = { ...PLATFORM_DEFAULTS, ffmpegPath: undefined };
      assert.equal((config as unknown as Record<string, unknown>)[c.key], defaults[c.key]);
      if (c.key !== 'debug') assert.equal(config.debug, true, 'valid neighbours are kept');
      assert.deepEqual(config.cameras.map((x) => x.id), ['good'], 'cameras still load');
    });
  }
});

describe('bad mqtt disables MQTT only', () => {
  const cases: Array<{ mqtt: unknown; field: string; message: RegExp }> = [
    { mqtt: 5, field: 'mqtt', message: /must be object/ },
    { mqtt: 'mqtt://h', field: 'mqtt', message: /must be object/ },
    { mqtt: [], field: 'mqtt', message: /must be object/ },
    { mqtt: null, field: 'mqtt', message: /must be object/ },
    { mqtt: { username: 'u', password: MQTT_PASSWORD }, field: 'mqtt.url', message: /is required/ },
    { mqtt: { url: `http://u:${MQTT_PASSWORD}@broker`, password: MQTT_PASSWORD }, field: 'mqtt.url', message: /mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\// },
    { mqtt: { url: `mqtt://u:${MQTT_PASSWORD}@bro ker` }, field: 'mqtt.url', message: /without spaces/ },
    { mqtt: { url: 'mqtt://h', topicPrefix: 'cctv/#' }, field: 'mqtt.topicPrefix', message: /invalid format/ },
    { mqtt: { url: 'mqtt://h', discoveryPrefix: 'home assistant' }, field: 'mqtt.discoveryPrefix', message: /invalid format/ },
    { mqtt: { url: 'mqtt://h', password: 12345 }, field: 'mqtt.password', message: /must be string/ },
    { mqtt: { url: 'mqtt://h', password: `${MQTT_PASSWORD}${'x'.repeat(300)}` }, field: 'mqtt.password', message: /more than 256/ },
    { mqtt: { url: 'mqtt://h', homeAssistant: 'yes', password: MQTT_PASSWORD }, field: 'mqtt.homeAssistant', message: /must be boolean/ },
    { mqtt: { url: 'mqtt://h', tls: { rejectUnauthorized: 'no' } }, field: 'mqtt.tls.rejectUnauthorized', message: /must be boolean/ },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.mqtt).slice(0, 70), () => {
      const { config, issues } = resolveConfig({ cameras: [GOOD], mqtt: c.mqtt });
      assertWellFormed(issues);
      assertNoSecrets(issues);
      assert.equal(config.mqtt, undefined);
      assert.ok(issues.length >= 1);
      for (const issue of issues) assert.deepEqual([issue.scope, issue.subject, issue.severity], ['mqtt', 'mqtt', 'error']);
      const issue = issues.find((i) => i.field === c.field);
      assert.ok(issue, JSON.stringify(issues));
      assert.match(issue.message, c.message);
      assert.equal(config.cameras.length, 1, 'cameras are unaffected');
    });
  }
});

describe('no password in any issue', () => {
  it('URL passwords in every field a user might paste them into', () => {
    const url = `rtsp://admin:${PASSWORD}@192.168.1.10:554/stream1`;
    const { issues } = resolveConfig({
      name: url,
      ffmpegPath: 5,
      cameras: [
        { id: 'a', name: url, source: url, maxStreams: 0 },
        { id: url, source: url },
        { id: 'c', name: `Door ${url} and more`, source: `${url} `, snapshotSource: `${url}?password=${PASSWORD}` },
        { id: 'd', name: 'D', source: `rtsp://admin:p@${PASSWORD}@h/x`, [url]: 1 },
        { id: 'e', name: `rtsp://me@example.com:${PASSWORD}@cam/s`, source: 'bad' },
        { id: 'f', name: 'F', source: 'rtsp://h/x', substreams: [{ source: `${url} ` }, { name: url, source: url }] },
      ],
      mqtt: { url: `mqtt://u:${MQTT_PASSWORD}@broker host`, password: MQTT_PASSWORD, username: 5 },
    });
    assert.ok(issues.length >= 8);
    assertWellFormed(issues);
    assertNoSecrets(issues);
  });
});

describe('substreams', () => {
  const cam = { id: 'cam', name: 'Cam', source: 'rtsp://h/main' };
  it('are resolved with default names, size hints and the camera login', () => {
    const { config, issues } = resolveConfig({ cameras: [{ ...cam, username: 'admin', password: 'p@ss', substreams: [
      { source: 'rtsp://h/sub', width: 640, height: 360 },
      { name: 'low', source: 'rtsp://other:own@h/low' },
      { name: '', source: 'rtsp://h/third' },
    ] }] });
    assert.deepEqual(issues, []);
    assert.deepEqual(config.cameras[0]?.substreams, [
      { name: 'sub1', source: 'rtsp://admin:p%40ss@h/sub', width: 640, height: 360 },
      { name: 'low', source: 'rtsp://other:own@h/low' },
      { name: 'sub3', source: 'rtsp://admin:p%40ss@h/third' },
    ]);
    assert.equal(config.cameras[0]?.source, 'rtsp://admin:p%40ss@h/main');
  });

  it('take the login written into the main URL, on the same host only', () => {
    const { config, issues } = resolveConfig({ cameras: [{ ...cam, source: 'rtsp://admin:p%40ss@H:554/main', substreams: [
      { name: 'sub', source: 'rtsp://h/sub' },
      { name: 'port', source: 'rtsp://h:8554/sub' },
      { name: 'own', source: 'rtsp://other:own@h/low' },
      { name: 'nvr', source: 'rtsp://nvr/ch1' },
    ] }] });
    assert.deepEqual(issues, []);
    assert.deepEqual(config.cameras[0]?.substreams.map((s) => s.source), [
      'rtsp://admin:p%40ss@h/sub',
      'rtsp://admin:p%40ss@h:8554/sub',
      'rtsp://other:own@h/low',
      'rtsp://nvr/ch1',
    ]);
  });

  it('a bad entry is reported by camera, index and field, and dropped; the camera keeps its main stream and the good ones', () => {
    const check = (substreams: unknown[], names: string[], want: string[][]): void => {
      const { config, issues } = resolveConfig({ cameras: [{ ...cam, substreams }] });
      assert.equal(config.cameras.length, 1);
      assert.equal(config.cameras[0]?.source, cam.source);
      assert.deepEqual(config.cameras[0]?.substreams.map((s) => s.name), names);
      assert.deepEqual(issues.map((i) => [i.subject, i.field, i.severity, i.message]), want.map((w) => ['camera "Cam" (#1)', ...w]));
    };
    const ignored = ' (this substream is ignored)';
    check([{ source: 'http://h/sub' }, { name: 'ok', source: 'rtsp://h/ok' }, { name: 'main', source: 'rtsp://h/x' }, { name: 'OK', source: 'rtsp://h/y' }], ['ok'], [
      ['substreams[0].source', 'warning', `must be an rtsp:// or rtsps:// URL without spaces or control characters${ignored}`],
      ['substreams[2].name', 'warning', `"main" is already used by another stream of this camera${ignored}`],
      ['substreams[3].name', 'warning', `"OK" is already used by another stream of this camera${ignored}`],
    ]);
    check([{ width: 640 }, 'rtsp://h/str', { source: 'rtsp://h/z', width: 'wide' }], [], [
      ['substreams[0].source', 'warning', `is required${ignored}`],
      ['substreams[1]', 'warning', `must be object${ignored}`],
      ['substreams[2].width', 'warning', `must be integer${ignored}`],
    ]);
    const five = [1, 2, 3, 4, 5].map((n) => ({ source: `rtsp://h/s${n}` }));
    check(five, ['sub1', 'sub2', 'sub3', 'sub4'], [['substreams[4]', 'warning', `and later entries are too many: at most 4 substreams${ignored}`]]);
  });

  it('an empty row the settings form saved is no substream, silently', () => {
    const { config, issues } = resolveConfig({ cameras: [{ ...cam, substreams: [{}, { name: '', source: '', width: null }, { source: 'rtsp://h/sub', width: '' }] }] });
    assert.deepEqual(issues, []);
    assert.deepEqual(config.cameras[0]?.substreams, [{ name: 'sub3', source: 'rtsp://h/sub' }]);
  });

  it('not an array: reported, no substreams', () => {
    const { config, issues } = resolveConfig({ cameras: [{ ...cam, substreams: 'rtsp://h/sub' }] });
    assert.deepEqual(config.cameras[0]?.substreams, []);
    assert.deepEqual(issues.map((i) => [i.field, i.severity]), [['substreams', 'warning']]);
  });
});

describe('hostile names', () => {
  const cases: Array<[unknown, string]> = [
    [{ name: 'Front\nDoor' }, 'camera "FrontDoor" (#1)'],
    [{ name: 'Front Door\r\n[CCTV] camera "x" is fine' }, 'camera "Front Door[CCTV] camera "x" is fine" (#1)'],
    [{ name: '\u001b[31mRed\u001b[0m' }, 'camera "[31mRed[0m" (#1)'],
    [{ name: 'a\u2028b\u2029c\u200bd\u202ee' }, 'camera "abcde" (#1)'],
    [{ name: '\u0000\u0001\u200b', id: 'cam-1' }, 'camera "cam-1" (#1)'],
    [{ name: '\n\t ', id: '\u0007' }, 'camera #1'],
    [{ name: 'x'.repeat(500) }, `camera "${'x'.repeat(64)}" (#1)`],
    [{ name: '  Porch  ' }, 'camera "Porch" (#1)'],
    [{ name: 'Café 🎥 門' }, 'camera "Café 🎥 門" (#1)'],
    [{ name: 5, id: 'five' }, 'camera "five" (#1)'],
    [{ name: `rtsp://admin:${PASSWORD}@h/x` }, 'camera "rtsp://admin:***@h/x" (#1)'],
    [null, 'camera #1'],
    ['Front Door', 'camera #1'],
  ];
  for (const [raw, want] of cases) {
    it(JSON.stringify(raw).slice(0, 50), () => {
      assert.equal(cameraSubject(raw, 0), want);
      const { issues } = resolveConfig({ cameras: [raw] });
      assert.ok(issues.length >= 1);
      for (const issue of issues) assert.equal(issue.subject, want);
      assertWellFormed(issues);
    });
  }
});

describe('property: odd configs', () => {
  const rng = seededRandom;

  const HUGE = ['A'.repeat(100_000), 'é🎥'.repeat(50_000), `${'a1-'.repeat(33_000)}rtsp://admin:${PASSWORD}@h/`];
  const STRINGS = [
    '', ' ', 'x', 'front-door', 'Front Door', 'CCTV', 'tcp', 'udp', 'auto', 'copy', 'opus', 'aac-eld', 'libx264',
    '; rm -rf / $(x) `id`', '$(reboot)', '`id`', "'; DROP TABLE cameras; --", '../../etc/passwd', '%00%0a', '\u0000\n\r\t',
    '\u202e\u2028\u200b', 'Ωμέγα 門 🎥', '\ud800', 'null', 'true', '1e309', 'NaN', '__proto__', 'constructor',
    `rtsp://admin:${PASSWORD}@192.168.1.10:554/s`, `rtsp://admin:p@${PASSWORD}@h/s`, `http://cam/snap?password=${PASSWORD}`,
    `mqtt://u:${MQTT_PASSWORD}@broker`, 'rtsp://h/x', 'mqtt://127.0.0.1:1883', 'rtsp://', 'rtsp:// h',
  ];
  const KEYS = ['id', 'name', 'source', 'snapshotSource', 'rtspTransport', 'unbridge', 'maxStreams', 'prebuffer', 'video', 'audio', 'motion',
    'motionTimeoutSeconds', 'doorbell', 'manufacturer', 'mode', 'maxWidth', 'maxFps', 'enabled', 'codec', 'url', 'password', 'username',
    'topicPrefix', 'tls', 'cameras', 'mqtt', 'debug', 'ffmpegPath', '__proto__', 'constructor', 'x\ny', '; rm -rf /'];

  function value(random: () => number, depth: number): unknown {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    switch (Math.floor(random() * 12)) {
    case 0: return null;
    case 1: return random() < 0.5;
    case 2: return pick([0, -1, 1, 2, 4, 8, 30, 65_536, 1.5, -0, Number.MAX_SAFE_INTEGER, 1e308, -1e308]);
    case 3: return Math.floor(random() * 5000) - 100;
    case 4: return pick(HUGE);
    case 5: case 6: return pick(STRINGS);
    case 7: return depth > 2 ? [] : Array.from({ length: Math.floor(random() * 4) }, () => value(random, depth + 1));
    default: return depth > 2 ? {} : object(random, depth + 1);
    }
  }

  function object(random: () => number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const n = Math.floor(random() * 8);
    for (let i = 0; i < n; i++) {
      const key = KEYS[Math.floor(random() * KEYS.length)] ?? 'k';
      // defineProperty: an own "__proto__" key, as JSON.parse would create it.
      Object.defineProperty(out, key, { value: value(random, depth), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  function config(random: () => number): unknown {
    const r = random();
    if (r < 0.05) return value(random, 3);
    const raw = object(random, 1);
    if (random() < 0.8) {
      raw.cameras = Array.from({ length: Math.floor(random() * 5) }, () => {
        const camera = random() < 0.6 ? { id: `cam${Math.floor(random() * 3)}`, name: 'Cam', source: 'rtsp://admin:hunter2@h/x' } : {};
        return random() < 0.1 ? value(random, 1) : { ...camera, ...object(random, 1) };
      });
    }
    if (random() < 0.5) raw.mqtt = random() < 0.7 ? { url: 'mqtt://h', password: MQTT_PASSWORD, ...object(random, 2) } : value(random, 1);
    return raw;
  }

  it('300 random configs: never throws, every issue is well-formed and secret-free', () => {
    const random = rng(20240607);
    const started = performance.now();
    for (let i = 0; i < 300; i++) {
      const raw = config(random);
      let result: ReturnType<typeof resolveConfig> | undefined;
      assert.doesNotThrow(() => { result = resolveConfig(raw); }, `config #${i}`);
      assert.ok(result);
      assertWellFormed(result.issues);
      assertNoSecrets(result.issues);
      assert.ok(Array.isArray(result.config.cameras));
      assert.equal(typeof result.config.name, 'string');
      const ids = new Set<string>();
      for (const camera of result.config.cameras) {
        assert.match(camera.id, /^[a-z0-9][a-z0-9_-]{0,62}$/);
        assert.ok(!ids.has(camera.id), 'ids are unique');
        ids.add(camera.id);
        assert.match(camera.source, /^rtsps?:\/\/\S+$/);
        assert.ok(['tcp', 'udp'].includes(camera.rtspTransport));
        assert.equal(typeof camera.video.maxFps, 'number');
      }
      if (result.config.mqtt) assert.match(result.config.mqtt.url, /^(mqtts?|wss?):\/\/\S+$/);
    }
    assert.ok(performance.now() - started < 10_000, 'fast enough');
  });
});
