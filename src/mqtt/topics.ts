/**
 * MQTT topic layout (Frigate-like), pure:
 *   <prefix>/availability            online|offline (LWT)
 *   <prefix>/<id>/status             online|offline
 *   <prefix>/<id>/health             JSON
 *   <prefix>/<id>/motion/set         ON|OFF (incoming)
 *   <prefix>/<id>/doorbell/set       ON|OFF (incoming)
 *   <discoveryPrefix>/<component>/<node>/<object>/config   Home Assistant discovery
 */

export const DEFAULT_TOPIC_PREFIX = 'cctv';
export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';

export type SetKind = 'motion' | 'doorbell';
export const SET_KINDS: readonly SetKind[] = ['motion', 'doorbell'];

/**
 * One topic level we generate: camera ids, discovery node/object ids. Home Assistant only accepts
 * `[a-zA-Z0-9_-]` for node_id/object_id, and wildcards (`+`, `#`) or `/` would break the layout.
 */
const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidTopicSegment(segment: string): boolean {
  return SEGMENT.test(segment);
}

/**
 * A user-chosen prefix may have several levels (`home/cctv`), but no wildcards, no empty levels
 * (no leading, trailing or double `/`), no whitespace or NUL, and must not start with `$` (reserved
 * for broker topics like `$SYS`). config.schema.json carries this very pattern (a unit test keeps
 * them equal), so a prefix the schema accepts never throws when the topics are built.
 */
export const TOPIC_PREFIX_PATTERN = '^(?!\\$)[^#+/\\s\\u0000]+(/[^#+/\\s\\u0000]+)*$';
const TOPIC_PREFIX = new RegExp(TOPIC_PREFIX_PATTERN, 'u');

export function isValidTopicPrefix(prefix: string): boolean {
  return TOPIC_PREFIX.test(prefix) && Buffer.byteLength(prefix, 'utf8') <= 32_000;
}

function segment(value: string, what: string): string {
  if (!isValidTopicSegment(value)) throw new TypeError(`invalid MQTT ${what} "${value}": use 1-128 of [A-Za-z0-9_-]`);
  return value;
}

function prefixOf(value: string, what: string): string {
  if (!isValidTopicPrefix(value)) throw new TypeError(`invalid MQTT ${what} "${value}"`);
  return value;
}

/** Builders bound to one prefix pair; construction validates the prefixes, each call the ids. */
export interface Topics {
  readonly prefix: string;
  readonly discoveryPrefix: string;
  availability(): string;
  status(cameraId: string): string;
  health(cameraId: string): string;
  set(cameraId: string, kind: SetKind): string;
  /** `<discoveryPrefix>/status`: Home Assistant publishes `online` here when it (re)starts. */
  discoveryStatus(): string;
  discoveryConfig(component: string, node: string, object: string): string;
  /** Incoming `<prefix>/<id>/<kind>/set` → what it addresses, or undefined for anything else. */
  parseSet(topic: string): { cameraId: string; kind: SetKind } | undefined;
}

export function createTopics(prefix: string = DEFAULT_TOPIC_PREFIX, discoveryPrefix: string = DEFAULT_DISCOVERY_PREFIX): Topics {
  const p = prefixOf(prefix, 'topic prefix');
  const d = prefixOf(discoveryPrefix, 'discovery prefix');
  return {
    prefix: p,
    discoveryPrefix: d,
    availability: () => `${p}/availability`,
    status: (id) => `${p}/${segment(id, 'camera id')}/status`,
    health: (id) => `${p}/${segment(id, 'camera id')}/health`,
    set: (id, kind) => `${p}/${segment(id, 'camera id')}/${kind}/set`,
    discoveryStatus: () => `${d}/status`,
    discoveryConfig: (component, node, object) =>
      `${d}/${segment(component, 'discovery component')}/${segment(node, 'discovery node id')}/${segment(object, 'discovery object id')}/config`,
    parseSet: (topic) => parseSetTopic(p, topic),
  };
}

export function parseSetTopic(prefix: string, topic: string): { cameraId: string; kind: SetKind } | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length !== 3 || rest[2] !== 'set') return undefined;
  const [cameraId, kind] = rest;
  if (cameraId === undefined || !isValidTopicSegment(cameraId)) return undefined;
  const setKind = SET_KINDS.find((k) => k === kind);
  return setKind ? { cameraId, kind: setKind } : undefined;
}

/** The subscription filter covering every camera's set topics: `<prefix>/+/+/set`. */
export function setTopicFilter(prefix: string = DEFAULT_TOPIC_PREFIX): string {
  return `${prefixOf(prefix, 'topic prefix')}/+/+/set`;
}

/** MQTT wildcard match of a concrete topic against a filter (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // Filters starting with a wildcard do not match `$` topics (MQTT 3.1.1 §4.7.2).
  if ((f[0] === '+' || f[0] === '#') && topic.startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
