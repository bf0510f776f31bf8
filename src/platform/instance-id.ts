/**
 * A short id that names this plugin instance on a shared MQTT broker: it seeds the MQTT client id
 * (so a restart takes over its own old session instead of leaving it to expire and publish a stale
 * last will) and namespaces Home Assistant node ids (so two Homebridge hosts, or two child
 * bridges, never clear each other's discovery entries). Random once, then kept in Homebridge's
 * storage, so it survives restarts and host renames; a storage dir that cannot be written falls back
 * to a hash of what identifies the instance.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../logging.js';

const FILE = 'homebridge-cctv-instances.json';
const ID = /^[0-9a-f]{8}$/;

export interface InstanceIdInit {
  storagePath: string;
  /** What tells instances sharing one storage dir apart: the child bridge's username, or "main". */
  key: string;
  log: Pick<Log, 'warn'>;
}

export function instanceId(init: InstanceIdInit): string {
  const path = join(init.storagePath, FILE);
  let known: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) known = parsed as Record<string, unknown>;
  } catch {
    // first start (or a damaged file): a new id is written below
  }
  const existing = known[init.key];
  if (typeof existing === 'string' && ID.test(existing)) return existing;
  const id = randomBytes(4).toString('hex');
  try {
    writeFileSync(path, `${JSON.stringify({ ...known, [init.key]: id }, null, 2)}\n`);
    return id;
  } catch (error) {
    const fallback = createHash('sha256').update(`${hostname()}\n${init.storagePath}\n${init.key}`).digest('hex').slice(0, 8);
    init.log.warn(`cannot store the MQTT instance id in ${path} (${error instanceof Error ? error.message : String(error)}); using ${fallback}, derived from the host name`);
    return fallback;
  }
}
