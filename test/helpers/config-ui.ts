/**
 * A real homebridge-config-ui-x (installed by scripts/install-config-ui.sh into .cache/config-ui),
 * UI only (standalone, no second Homebridge), bound to 127.0.0.1 with `auth: none` so a browser is
 * logged in without typing. Its update checks (npm registry, GitHub, nodejs.org) go to a dead local
 * proxy, so nothing leaves loopback.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { REPO_ROOT } from './homebridge.js';
import { isRunning, killOnExit, terminate } from './processes.js';
import { waitFor } from './wait.js';

export interface ConfigUiOptions {
  /** The Homebridge storage dir whose config.json the UI edits (shared with a running Homebridge). */
  storageDir: string;
  startTimeoutMs?: number;
}

export class ConfigUi {
  readonly logs: string[] = [];

  private constructor(
    readonly port: number,
    readonly storageDir: string,
    private readonly pluginsDir: string,
    private readonly child: ChildProcess,
  ) {
    const onData = (chunk: Buffer): void => {
      this.logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.logs.length > 2000) this.logs.splice(0, 1000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(o: ConfigUiOptions): Promise<ConfigUi> {
    const installDir = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'install-config-ui.sh')], { encoding: 'utf8', timeout: 300_000 }).trim();
    const port = await freePort();
    // The UI finds plugins as <dir>/homebridge-*; a symlink to this repo is accepted (it checks the realpath).
    const pluginsDir = mkdtempSync(join(tmpdir(), 'cctv-ui-plugins-'));
    symlinkSync(REPO_ROOT, join(pluginsDir, 'homebridge-cctv'));
    const configPath = join(o.storageDir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { platforms?: Record<string, unknown>[] };
    config.platforms = [...(config.platforms ?? []).filter((p) => p.platform !== 'config'),
      { platform: 'config', name: 'Config', port, host: '127.0.0.1', auth: 'none' }];
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    mkdirSync(o.storageDir, { recursive: true });
    const dead = `http://127.0.0.1:9`;
    const child = spawn(process.execPath, [join(installDir, 'node_modules', 'homebridge-config-ui-x', 'dist', 'bin', 'standalone.js'), '-U', o.storageDir, '-P', pluginsDir, '-I'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', UIX_STORAGE_PATH: o.storageDir },
    });
    killOnExit(child);
    const ui = new ConfigUi(port, o.storageDir, pluginsDir, child);
    try {
      await waitFor(async () => {
        if (!isRunning(child)) throw new Error(`homebridge-config-ui-x exited:\n${ui.logs.slice(-20).join('\n')}`);
        try {
          const res = await fetch(`${ui.url}/api/auth/settings`);
          return res.ok ? true : undefined;
        } catch {
          return undefined;
        }
      }, { timeoutMs: o.startTimeoutMs ?? 60_000, intervalMs: 250, what: 'homebridge-config-ui-x listening' });
      // auth "none" still needs an admin account to exist (first-run wizard, done once by API).
      const res = await fetch(`${ui.url}/api/setup-wizard/create-first-user`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Admin', username: 'admin', password: 'ui-e2e-admin' }),
      });
      if (!res.ok && res.status !== 403) throw new Error(`create-first-user: HTTP ${res.status}`);
    } catch (error) {
      await ui.dispose();
      throw error;
    }
    return ui;
  }

  async dispose(): Promise<void> {
    await terminate(this.child, 'SIGTERM', 10_000);
    rmSync(this.pluginsDir, { recursive: true, force: true });
  }
}
