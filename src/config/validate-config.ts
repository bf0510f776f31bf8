/**
 * Config resolution: raw Homebridge JSON in, a typed config with schema defaults plus a list of
 * issues out. Pure (no logging, no Homebridge): the platform decides how to report the issues.
 * Each camera is validated on its own so one bad entry never takes the others down.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { CameraConfig, ConfigIssue, MqttConfig, PlatformConfig, SubstreamConfig } from './config-types.js';
import { withCredentials, withLoginOf } from './camera-credentials.js';
import { redactUrlsInText } from './redact.js';
import { cameraSchema, mqttSchema, platformSchema, UI_KEYWORDS, type JsonSchema } from './schema.js';

export interface ResolvedConfig {
  config: PlatformConfig;
  issues: ConfigIssue[];
}

interface Validators {
  platform: ValidateFunction;
  camera: ValidateFunction;
  mqtt: ValidateFunction;
  substream: ValidateFunction;
  mqttDefaults: ReadonlyMap<string, unknown>;
  cameraKeys: Set<string>;
}

let validators: Validators | undefined;

function compile(): Validators {
  // useDefaults fills schema defaults in place, so callers always validate a clone.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  for (const keyword of UI_KEYWORDS) ajv.addKeyword({ keyword, schemaType: ['string', 'object', 'array', 'boolean'] });
  const camera = cameraSchema();
  const mqtt = mqttSchema();
  return {
    platform: ajv.compile(platformSchema()),
    camera: ajv.compile(camera),
    mqtt: ajv.compile(mqtt),
    substream: ajv.compile(camera.properties?.substreams?.items ?? { type: 'object' }),
    mqttDefaults: defaultsOf(mqtt),
    cameraKeys: new Set(Object.keys(camera.properties ?? {})),
  };
}

const MAX_SUBJECT = 64;

/**
 * User text fit for a log line: control, format and line/paragraph-separator characters stripped so a
 * hostile name cannot forge log lines, and URL passwords masked (a URL pasted into the name field).
 */
function printable(text: string): string {
  // Bounded first (URLs are at most 2048 characters in the schema): URL matching is quadratic in length.
  return redactUrlsInText(text.slice(0, 2048).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')).trim().slice(0, MAX_SUBJECT);
}

/** How a log line names a camera: its name if usable, else its id, else its position. */
export function cameraSubject(raw: unknown, index: number): string {
  const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  // Clean first: a name made only of control characters falls back to the id, not to `camera ""`.
  const label = [entry.name, entry.id].map((v) => (typeof v === 'string' ? printable(v) : '')).find((v) => v.length > 0);
  if (!label) return `camera #${index + 1}`;
  return `camera "${label}" (#${index + 1})`;
}

function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  const missing = error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  return [path, missing].filter(Boolean).join('.') || '(root)';
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
  case 'required':
    return 'is required';
  case 'enum':
    return `must be one of ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
  case 'pattern':
    return describePattern(fieldOf(error));
  case 'type':
    return `must be ${(error.params as { type?: string }).type ?? 'of another type'}`;
  default:
    return error.message ?? 'is invalid';
  }
}

/** Patterns are unreadable to most users; say what they mean instead. */
function describePattern(field: string): string {
  const leaf = field.split('.').pop();
  switch (leaf) {
  case 'id': return 'must be lowercase letters, digits, "-" or "_" (at most 63, starting with a letter or digit)';
  case 'source': return 'must be an rtsp:// or rtsps:// URL without spaces or control characters';
  case 'snapshotSource': return 'must be an http(s):// or rtsp(s):// URL without spaces or control characters';
  case 'url': return 'must be an mqtt://, mqtts://, ws:// or wss:// URL without spaces or control characters';
  case 'name': return 'must contain a visible character';
  default: return 'has an invalid format';
  }
}

function toIssues(errors: ErrorObject[] | null | undefined, scope: ConfigIssue['scope'], subject: string, prefix = ''): ConfigIssue[] {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const error of errors ?? []) {
    const path = fieldOf(error);
    // A wrong type for the whole mqtt object is reported on `mqtt`, not `mqtt.(root)`.
    const field = prefix && path === '(root)' ? prefix.replace(/\.$/, '') : prefix + path;
    const message = messageOf(error);
    const key = `${field}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ scope, subject, field, message, severity: 'error' });
  }
  return issues;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

const TOO_DEEP = 'is nested too deeply to read';

/**
 * A copy of an object's entries, key by key: a value nested deeper than structuredClone can follow
 * (a few thousand levels, which JSON.parse accepts) is left out and its key returned in `tooDeep`,
 * instead of a RangeError escaping into Homebridge and stopping the whole bridge.
 */
function cloneEntries(value: Record<string, unknown>): { copy: Record<string, unknown>; tooDeep: string[] } {
  const entries: Array<[string, unknown]> = [];
  const tooDeep: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    try {
      entries.push([key, clone(item)]);
    } catch {
      tooDeep.push(key);
    }
  }
  // fromEntries defines own data properties: a "__proto__" key stays a plain key.
  return { copy: Object.fromEntries(entries), tooDeep };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Schema defaults of an object's properties, nested objects as maps of their own defaults. */
function defaultsOf(schema: JsonSchema): ReadonlyMap<string, unknown> {
  const defaults = new Map<string, unknown>();
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (property.type === 'object') defaults.set(key, defaultsOf(property));
    else if ('default' in property) defaults.set(key, property['default']);
  }
  return defaults;
}

/** True when every value is empty or its schema default: what the Homebridge UI saves for an untouched section. */
function onlyDefaults(value: Record<string, unknown>, defaults: ReadonlyMap<string, unknown>): boolean {
  return Object.entries(value).every(([key, item]) => {
    const expected = defaults.get(key);
    if (expected instanceof Map) return isObject(item) && onlyDefaults(item, expected as ReadonlyMap<string, unknown>);
    return item === '' || item === undefined || (expected !== undefined && item === expected);
  });
}

/**
 * Whether the mqtt block asks for MQTT: `enabled` when set, otherwise a broker URL. A block of
 * defaults only (the Homebridge UI saves nested defaults of sections nobody opened) means off,
 * silently; anything else without a URL is reported, so a half-filled section is not ignored.
 */
export function mqttRequested(raw: unknown, defaults: ReadonlyMap<string, unknown>): boolean {
  if (raw === undefined) return false;
  if (!isObject(raw)) return true; // the wrong type is reported
  if (raw.enabled === false) return false;
  if (raw.enabled !== undefined) return true; // true, or a wrong type that validation reports
  if (raw.url !== undefined && raw.url !== '') return true;
  return !onlyDefaults(raw, defaults);
}

/**
 * A camera's substreams, each validated on its own: a bad entry is reported (as a warning naming its
 * index and field) and left out, so the camera still starts with its main stream. Names default to
 * sub1, sub2, ... by position; "main" and duplicates are refused. The camera's login is added to a
 * URL without one, as for the main stream.
 */
/** As the schema's maxItems (checked here, per entry, not by the camera's schema). */
const MAX_SUBSTREAMS = 4;

function resolveSubstreams(raw: unknown, subject: string, validate: ValidateFunction, issues: ConfigIssue[], login: { username?: string; password?: string }, mainUrl: string): SubstreamConfig[] {
  if (raw === undefined) return [];
  const warn = (field: string, message: string): void => {
    issues.push({ scope: 'camera', subject, field, message: `${message} (this substream is ignored)`, severity: 'warning' });
  };
  if (!Array.isArray(raw)) {
    warn('substreams', 'must be an array');
    return [];
  }
  const out: SubstreamConfig[] = [];
  const names = new Set(['main']);
  if (raw.length > MAX_SUBSTREAMS) warn(`substreams[${MAX_SUBSTREAMS}]`, `and later entries are too many: at most ${MAX_SUBSTREAMS} substreams`);
  raw.slice(0, MAX_SUBSTREAMS).forEach((entry: unknown, index: number) => {
    const prefix = `substreams[${index}]`;
    // The settings form saves untouched fields as "" (and may save an empty row): defaults, not errors.
    if (isObject(entry)) {
      for (const key of Object.keys(entry)) if (entry[key] === '' || entry[key] === null) delete entry[key];
      if (Object.keys(entry).length === 0) return;
    }
    if (!validate(entry)) {
      for (const issue of toIssues(validate.errors, 'camera', subject, `${prefix}.`)) warn(issue.field, issue.message);
      return;
    }
    const stream = entry as SubstreamConfig;
    const name = stream.name ?? `sub${index + 1}`;
    if (names.has(name.toLowerCase())) {
      warn(`${prefix}.name`, `"${name}" is already used by another stream of this camera`);
      return;
    }
    names.add(name.toLowerCase());
    out.push({
      name,
      // The fields' login, else the one written into the main URL (same host only).
      source: login.username || login.password ? withCredentials(stream.source, login.username, login.password).url : withLoginOf(stream.source, mainUrl),
      ...(stream.width !== undefined ? { width: stream.width } : {}),
      ...(stream.height !== undefined ? { height: stream.height } : {}),
    });
  });
  return out;
}

/** Resolve Homebridge's platform config. Never throws, whatever `raw` is. */
export function resolveConfig(raw: unknown): ResolvedConfig {
  validators ??= compile();
  const v = validators;
  const issues: ConfigIssue[] = [];
  let input: Record<string, unknown> = {};
  if (isObject(raw)) {
    // cameras and mqtt are copied entry by entry below, so one deep camera costs only that camera.
    const { cameras: rawCameraList, mqtt: rawMqttValue, ...rest } = raw;
    const { copy, tooDeep } = cloneEntries(rest);
    input = { ...copy, ...(rawCameraList !== undefined ? { cameras: rawCameraList } : {}), ...(rawMqttValue !== undefined ? { mqtt: rawMqttValue } : {}) };
    for (const key of tooDeep) issues.push({ scope: 'platform', subject: 'platform', field: printable(key) || '""', message: TOO_DEEP, severity: 'error' });
  } else {
    issues.push({ scope: 'platform', subject: 'platform', field: '(root)', message: 'must be an object', severity: 'error' });
  }

  const rawCameras = input.cameras;
  const rawMqtt = input.mqtt;
  delete input.mqtt;
  if (rawCameras !== undefined && !Array.isArray(rawCameras)) {
    issues.push({ scope: 'platform', subject: 'platform', field: 'cameras', message: 'must be an array', severity: 'error' });
  }
  input.cameras = [];
  if (!v.platform(input)) {
    // Bad platform-level values: report them and fall back to the schema defaults for those keys.
    issues.push(...toIssues(v.platform.errors, 'platform', 'platform'));
    const fallback: Record<string, unknown> = { cameras: [] };
    for (const [key, value] of Object.entries(input)) {
      if (v.platform({ ...fallback, [key]: value })) fallback[key] = value;
    }
    v.platform(fallback);
    for (const key of Object.keys(input)) delete input[key];
    Object.assign(input, fallback);
  }

  const cameras: CameraConfig[] = [];
  const ids = new Map<string, string>();
  (Array.isArray(rawCameras) ? rawCameras : []).forEach((entry: unknown, index: number) => {
    const subject = cameraSubject(entry, index);
    if (!isObject(entry)) {
      issues.push({ scope: 'camera', subject, field: '(root)', message: 'must be an object', severity: 'error' });
      return;
    }
    const { copy: camera, tooDeep } = cloneEntries(entry);
    if (tooDeep.length > 0) {
      for (const key of tooDeep) issues.push({ scope: 'camera', subject, field: printable(key) || '""', message: TOO_DEEP, severity: 'error' });
      return;
    }
    // Substreams are checked one by one below: a bad one is dropped, the camera keeps its main stream.
    const rawSubstreams = camera.substreams;
    delete camera.substreams;
    if (!v.camera(camera)) {
      issues.push(...toIssues(v.camera.errors, 'camera', subject));
      return;
    }
    const resolved = camera as unknown as CameraConfig;
    const previous = ids.get(resolved.id);
    if (previous) {
      issues.push({ scope: 'camera', subject, field: 'id', message: `"${resolved.id}" is already used by ${previous}`, severity: 'error' });
      return;
    }
    ids.set(resolved.id, subject);
    for (const key of Object.keys(camera)) {
      if (!v.cameraKeys.has(key)) {
        issues.push({ scope: 'camera', subject, field: printable(key) || '""', message: 'is not a known setting and is ignored', severity: 'warning' });
      }
    }
    if (resolved.snapshotSource === '') delete resolved.snapshotSource;
    const login = camera as { username?: string; password?: string };
    const credentials = withCredentials(resolved.source, login.username, login.password);
    if (credentials.kind === 'ignored') {
      issues.push({ scope: 'camera', subject, field: 'username', message: 'and password are ignored: the RTSP URL already has credentials', severity: 'warning' });
    }
    resolved.source = credentials.url;
    resolved.substreams = resolveSubstreams(rawSubstreams, subject, v.substream, issues, login, credentials.url);
    delete login.username;
    delete login.password;
    cameras.push(resolved);
  });

  let mqtt: MqttConfig | undefined;
  if (mqttRequested(rawMqtt, v.mqttDefaults)) {
    const { copy, tooDeep } = isObject(rawMqtt) ? cloneEntries(rawMqtt) : { copy: rawMqtt, tooDeep: [] };
    const candidate = copy;
    if (tooDeep.length > 0) {
      for (const key of tooDeep) issues.push({ scope: 'mqtt', subject: 'mqtt', field: `mqtt.${printable(key) || '""'}`, message: TOO_DEEP, severity: 'error' });
    } else if (!v.mqtt(candidate)) {
      issues.push(...toIssues(v.mqtt.errors, 'mqtt', 'mqtt', 'mqtt.'));
    } else if (!isObject(candidate) || typeof candidate.url !== 'string' || candidate.url === '') {
      // Not a schema `required`: the UI would then flag the section for users who never use MQTT.
      issues.push({ scope: 'mqtt', subject: 'mqtt', field: 'mqtt.url', message: 'is required', severity: 'error' });
    } else {
      delete candidate.enabled;
      mqtt = candidate as unknown as MqttConfig;
    }
  }

  const config: PlatformConfig = {
    ...(input as unknown as Omit<PlatformConfig, 'cameras' | 'mqtt'>),
    cameras,
    ...(mqtt ? { mqtt } : {}),
  };
  if (config.ffmpegPath === '') delete config.ffmpegPath;
  return { config, issues };
}

