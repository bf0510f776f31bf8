/**
 * Which child bridge this plugin instance runs on. Homebridge deletes `_bridge` from the platform
 * block before it hands it to the plugin in a child bridge process, so the block alone cannot tell a
 * child bridge from the main bridge, nor two child bridges apart; without this, every instance would
 * share the main bridge's MQTT client id (each connect kicking the other off the broker) and status
 * file. The answer comes from config.json: the `_bridge` block whose other settings equal ours.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { PLATFORM_NAME, PLUGIN_NAME } from '../settings.js';

export type ChildBridgeMatch =
  | { kind: 'main' }
  | { kind: 'child'; username: string }
  /** In a child bridge process, but config.json names no single matching `_bridge` block. */
  | { kind: 'unknown'; why: string };

/** True in the process Homebridge forks for a child bridge (its entry point is childBridgeFork.js). */
export function inChildBridgeProcess(argv: readonly string[] = process.argv): boolean {
  return /^childBridgeFork\.[cm]?js$/.test(basename(argv[1] ?? ''));
}

/**
 * Pure: our platform block as the plugin received it (in a child bridge, without `_bridge`), the
 * `platforms` of config.json, and whether this is a child bridge process.
 */
export function matchChildBridge(own: unknown, platforms: unknown, inChild: boolean): ChildBridgeMatch {
  const block = own as { _bridge?: { username?: unknown } } | null | undefined;
  // Homebridge 1.x/2.x strip `_bridge`; if one ever keeps it, it is the answer.
  if (typeof block?._bridge?.username === 'string' && block._bridge.username !== '') return { kind: 'child', username: block._bridge.username.toUpperCase() };
  if (!inChild) return { kind: 'main' };
  if (!Array.isArray(platforms)) return { kind: 'unknown', why: 'config.json has no platforms list' };
  const children = platforms.filter((p): p is { _bridge: { username: string } } & Record<string, unknown> =>
    isOurPlatform(p) && typeof (p as { _bridge?: { username?: unknown } })._bridge?.username === 'string');
  const wanted = canonical(own);
  const same = children.filter((p) => canonical(withoutBridge(p)) === wanted);
  const pick = same.length === 1 ? same[0] : children.length === 1 ? children[0] : undefined;
  if (pick) return { kind: 'child', username: pick._bridge.username.toUpperCase() };
  return { kind: 'unknown', why: same.length > 1 ? 'several child bridge blocks have the same settings' : 'no child bridge block in config.json has these settings' };
}

/** Reads config.json and matches; never throws. */
export function findChildBridge(own: unknown, configPath: string, inChild = inChildBridgeProcess()): ChildBridgeMatch {
  if (!inChild) return matchChildBridge(own, undefined, false);
  try {
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { platforms?: unknown };
    return matchChildBridge(own, config.platforms, true);
  } catch (error) {
    return { kind: 'unknown', why: `cannot read ${configPath} (${error instanceof Error ? error.message : String(error)})` };
  }
}

/** A platform block of this plugin, by its short or fully qualified name (Homebridge accepts both). */
export function isOurPlatform(p: unknown): boolean {
  const name = (p as { platform?: unknown } | null)?.platform;
  return name === PLATFORM_NAME || name === `${PLUGIN_NAME}.${PLATFORM_NAME}`;
}

function withoutBridge(block: Record<string, unknown>): Record<string, unknown> {
  const { _bridge: _ignored, ...rest } = block;
  return rest;
}

/** JSON with sorted keys, so key order never decides a match. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}
