/**
 * Real Homebridge, headless, loading this plugin from the repo, with its HAP servers and mDNS
 * advertiser bound to 127.0.0.1 so nothing leaves loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from './free-port.js';
import { resolveExecutable } from './mosquitto.js';
import { isRunning, killOnExit, terminate } from './processes.js';
import { waitFor } from './wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOMEBRIDGE_BIN = join(REPO_ROOT, 'node_modules', 'homebridge', 'bin', 'homebridge');
/** Pins host-less net listens (HAP-NodeJS's HomeKit Data Stream server) to 127.0.0.1. */
const LOOPBACK_PRELOAD = pathToFileURL(join(REPO_ROOT, 'test', 'helpers', 'hds-loopback-preload.mjs')).href;
export const TEST_PIN = '031-45-154';

export interface HomebridgeOptions {
  /** The CCTV platform block (without `platform`), e.g. `{ cameras: [...], mqtt: {...} }`. */
  platform?: Record<string, unknown>;
  /**
   * Complete platform blocks (each with its own `platform` key), written instead of the CCTV block
   * built from `platform`, e.g. another plugin's `{ platform: 'Camera-ffmpeg', cameras: [...] }`.
   */
  platforms?: Record<string, unknown>[];
  /** The plugin Homebridge loads (`-P`, strict resolution): default this repository. */
  pluginPath?: string;
  /** Reuse a storage dir (restart with the same pairings and cached accessories). */
  storageDir?: string;
  debug?: boolean;
  /** Bind HAP and mDNS to loopback (default true; the machine must never advertise on the LAN). */
  loopback?: boolean;
  startTimeoutMs?: number;
  /**
   * Print Homebridge's output as it arrives (the demo), stdout to stdout and stderr (its warnings
   * and errors) to stderr, keeping only a bounded tail in memory.
   */
  echo?: boolean;
  /**
   * Its own process group (the demo), so a terminal's Ctrl-C reaches only the caller, which stops
   * Homebridge first and the broker and camera after it. It still dies with the caller (pdeathsig).
   */
  detached?: boolean;
  bridgeName?: string;
}

export class Homebridge {
  readonly logs: string[] = [];

  private constructor(
    readonly storageDir: string,
    readonly bridgePort: number,
    private readonly child: ChildProcess,
    private readonly ownsStorage: boolean,
    echo: boolean,
  ) {
    const reader = (out: NodeJS.WriteStream): ((chunk: Buffer) => void) => {
      let partial = '';
      return (chunk) => {
        const text = partial + chunk.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (echo) out.write(`${line}\n`);
          this.logs.push(stripAnsi(line));
        }
        if (echo && this.logs.length > 5000) this.logs.splice(0, this.logs.length - 1000);
      };
    };
    child.stdout?.on('data', reader(process.stdout));
    child.stderr?.on('data', reader(process.stderr));
  }

  static async start(o: HomebridgeOptions): Promise<Homebridge> {
    const ownsStorage = !o.storageDir;
    const storageDir = o.storageDir ?? mkdtempSync(join(tmpdir(), 'cctv-hb-'));
    const bridgePort = await freePort();
    // A restart on the same storage keeps the bridge identity, so pairings and the cache stay valid.
    const configPath = join(storageDir, 'config.json');
    const previous = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as { bridge?: { username?: string } }) : undefined;
    const username = previous?.bridge?.username ?? `0E:${[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
    const loopback = o.loopback ?? true;
    const config = {
      bridge: {
        name: o.bridgeName ?? 'CCTV Test Bridge',
        username,
        port: bridgePort,
        pin: TEST_PIN,
        advertiser: 'ciao',
        ...(loopback ? { bind: ['127.0.0.1'] } : {}),
      },
      accessories: [],
      platforms: o.platforms ?? [{ platform: 'CCTV', name: 'CCTV', ...o.platform }],
    };
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const args = [HOMEBRIDGE_BIN, '-U', storageDir, '-P', o.pluginPath ?? REPO_ROOT, '--strict-plugin-resolution', '-Q', '-T', ...(o.debug ? ['-D'] : [])];
    const node = loopback ? ['--import', LOOPBACK_PRELOAD] : [];
    // setpriv sets PR_SET_PDEATHSIG and execs node (same pid): a detached Homebridge is out of reach
    // of the terminal's signals, so it must still go when its parent dies.
    const setpriv = o.detached ? resolveExecutable('setpriv') : undefined;
    const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', process.execPath, ...node, ...args]] : [process.execPath, [...node, ...args]];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' }, detached: o.detached ?? false });
    killOnExit(child);
    const hb = new Homebridge(storageDir, bridgePort, child, ownsStorage, o.echo ?? false);
    await hb.waitForLog(/Homebridge v?[\d.]+.*is running on port \d+|is running on port \d+/, o.startTimeoutMs ?? 30_000);
    return hb;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** Resolves with the first log line matching, waiting up to `timeoutMs`. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<string> {
    return waitFor(() => this.logs.slice(from).find((l) => pattern.test(l)) ?? (this.running ? undefined : failWith(`Homebridge exited:\n${this.tail()}`)), {
      timeoutMs, intervalMs: 50, what: `Homebridge log ${pattern} (last lines:\n${this.tail()})`,
    });
  }

  /** The HAP port of an unbridged accessory, from "<name> XXXX is running on port N". */
  async accessoryPort(name: string, timeoutMs = 30_000): Promise<number> {
    const line = await this.waitForLog(new RegExp(`${escapeRegExp(name)} [0-9A-F]{4} is running on port \\d+`), timeoutMs);
    const match = /is running on port (\d+)/.exec(line);
    return Number(match?.[1]);
  }

  tail(n = 30): string {
    return this.logs.slice(-n).join('\n');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    await terminate(this.child, signal, graceMs);
  }

  /** Stop and remove the storage dir (when this instance created it). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsStorage) rmSync(this.storageDir, { recursive: true, force: true });
  }
}

function failWith(message: string): never {
  throw new Error(message);
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
