/**
 * A short id that names this plugin instance on a shared MQTT broker: it seeds the MQTT client id
 * (so a restart takes over its own old session instead of leaving it to expire and publish a stale
 * last will) and namespaces Home Assistant node ids (so two Homebridge hosts, or two child
 * bridges, never clear each other's discovery entries). Random once, then kept in Homebridge's
 * storage, so it survives restarts and host renames; a storage dir that cannot be written falls back
 * to a hash of what identifies the instance.
 *
 * The main bridge and its child bridges share one storage dir and start at the same moment, so the
 * file's read-merge-write runs under an exclusive lock file: without it, two instances writing their
 * first id at once keep only one, and the other gets a new id (new Home Assistant entities) at its
 * next start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../logging.js';

const FILE = 'homebridge-cctv-instances.json';
const ID = /^[0-9a-f]{8}$/;
/** How long to wait for another instance's write (it holds the lock for a few ms). */
const LOCK_WAIT_MS = 2000;
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000;

export interface InstanceIdInit {
  storagePath: string;
  /** What tells instances sharing one storage dir apart: the child bridge's username, or "main". */
  key: string;
  log: Pick<Log, 'warn'>;
}

export function instanceId(init: InstanceIdInit): string {
  const path = join(init.storagePath, FILE);
  const existing = readKnown(path)[init.key];
  if (typeof existing === 'string' && ID.test(existing)) return existing;
  try {
    return withLock(`${path}.lock`, () => {
      // Re-read under the lock: another instance may have written since.
      const known = readKnown(path);
      const current = known[init.key];
      if (typeof current === 'string' && ID.test(current)) return current;
      const id = randomBytes(4).toString('hex');
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ ...known, [init.key]: id }, null, 2)}\n`);
      renameSync(tmp, path);
      return id;
    });
  } catch (error) {
    const fallback = createHash('sha256').update(`${hostname()}\n${init.storagePath}\n${init.key}`).digest('hex').slice(0, 8);
    init.log.warn(`cannot store the MQTT instance id in ${path} (${error instanceof Error ? error.message : String(error)}); using ${fallback}, derived from the host name`);
    return fallback;
  }
}

function readKnown(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // first start (or a damaged file): a new id is written
  }
  return {};
}

/** Runs `fn` holding `lockPath` (created exclusively); throws when it cannot be had in time. */
function withLock<T>(lockPath: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockPath, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockAgeMs(lockPath) > STALE_LOCK_MS) {
        unlinkQuietly(lockPath);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lockPath} is held by another process`, { cause: error });
      // Synchronous on purpose: this runs once at start-up and the holder needs only milliseconds.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    unlinkQuietly(lockPath);
  }
}

function lockAgeMs(lockPath: string): number {
  try {
    return Date.now() - statSync(lockPath).mtimeMs;
  } catch {
    return 0; // released meanwhile: the next attempt takes it
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
