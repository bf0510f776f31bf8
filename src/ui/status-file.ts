/**
 * The plugin's health, as a small JSON file under the Homebridge storage path, for the settings
 * page: its server (homebridge-ui/server.js) runs in another process, only while the page is
 * open, and has no handle on the running plugin. Written atomically (temp file + rename) so a
 * reader never sees half a file; coalesced so a burst of health changes costs one write.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HealthPayload } from '../mqtt/payloads.js';

export const STATUS_FORMAT = 1;

export interface CameraStatus {
  name: string;
  health: HealthPayload;
}

export interface StatusDocument {
  format: typeof STATUS_FORMAT;
  pluginVersion: string;
  /** The writing process, so the page can tell a running plugin from a stale file. */
  pid: number;
  /** ISO 8601: when the plugin last wrote the file (a stale file means the plugin is not running). */
  updatedAt: string;
  cameras: Record<string, CameraStatus>;
}

/**
 * `status.json` for the main bridge; a child bridge (`_bridge.username`) writes its own file, since
 * the main bridge and child bridges share the storage dir and would overwrite each other's cameras.
 */
export function statusFilePath(storagePath: string, childBridgeUsername?: string): string {
  const name = childBridgeUsername ? `status-${childBridgeUsername.replace(/[^0-9A-Za-z]/g, '').toUpperCase()}.json` : 'status.json';
  return join(storagePath, 'homebridge-cctv', name);
}

/** The `_bridge.username` of a platform block, when it runs on a child bridge. */
export function childBridgeUsername(block: unknown): string | undefined {
  const bridge = (block as { _bridge?: { username?: unknown } } | null | undefined)?._bridge;
  return typeof bridge?.username === 'string' && bridge.username !== '' ? bridge.username : undefined;
}

/** The status document, or null when there is none or it is not ours (never throws). */
export function readStatusFile(path: string): StatusDocument | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const doc = JSON.parse(text) as Partial<StatusDocument> | null;
    if (!doc || doc.format !== STATUS_FORMAT || typeof doc.cameras !== 'object' || doc.cameras === null) return null;
    return doc as StatusDocument;
  } catch {
    return null;
  }
}

export interface StatusFileInit {
  path: string;
  pluginVersion: string;
  /** Coalescing window for bursts of changes. */
  delayMs?: number;
  /** Told once per failing write streak (a full disk must not take down the plugin). */
  onError: (message: string) => void;
  now?: () => number;
}

export class StatusFile {
  private readonly cameras = new Map<string, CameraStatus>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private closed = false;

  constructor(private readonly init: StatusFileInit) {}

  update(id: string, status: CameraStatus): void {
    if (this.closed) return;
    this.cameras.set(id, status);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.init.delayMs ?? 250);
  }

  /** Writes now (also used at shutdown so the last verdicts are on disk). */
  flush(): void {
    const now = this.init.now?.() ?? Date.now();
    const doc: StatusDocument = {
      format: STATUS_FORMAT,
      pluginVersion: this.init.pluginVersion,
      pid: process.pid,
      updatedAt: new Date(now).toISOString(),
      cameras: Object.fromEntries(this.cameras),
    };
    const tmp = `${this.init.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.init.path), { recursive: true });
      writeFileSync(tmp, `${JSON.stringify(doc, null, 1)}\n`, { mode: 0o600 });
      renameSync(tmp, this.init.path);
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.init.onError(`could not write ${this.init.path}: ${error instanceof Error ? error.message : String(error)}`);
      this.failing = true;
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    this.closed = true;
  }
}
