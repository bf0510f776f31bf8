import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

import { freePort } from './free-port.js';
import { isRunning, killOnExit, terminate } from './processes.js';
import { delay } from './wait.js';

const execFileAsync = promisify(execFile);

export interface MosquittoOptions {
  /** user -> password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** Fixed port (default: a free one). */
  port?: number;
  /** Bound on accepting TCP connections (default 10 s). */
  startTimeoutMs?: number;
  /** Its own process group (the demo): a terminal's Ctrl-C must not reach it before Homebridge stops. */
  detached?: boolean;
}

/** Find an executable on PATH or in the sbin directories (Debian puts mosquitto in /usr/sbin). */
export function resolveExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

// Temp dirs still in use; removed if the test process exits without stop().
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** A real mosquitto broker on 127.0.0.1 with its own temp config dir. */
export class Mosquitto {
  readonly port: number;
  readonly users: Readonly<Record<string, string>> | undefined;
  private readonly dir: string;
  private readonly configFile: string;
  private readonly startTimeoutMs: number;
  private child: ChildProcess | undefined;
  private logText = '';

  private constructor(port: number, users: Record<string, string> | undefined, startTimeoutMs: number, private readonly detached = false) {
    this.port = port;
    this.users = users;
    this.startTimeoutMs = startTimeoutMs;
    this.dir = mkdtempSync(join(tmpdir(), 'cctv-mosquitto-'));
    this.configFile = join(this.dir, 'mosquitto.conf');
    liveDirs.add(this.dir);
  }

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = options.port ?? (await freePort('tcp'));
    const users = options.users !== undefined && Object.keys(options.users).length > 0 ? { ...options.users } : undefined;
    const broker = new Mosquitto(port, users, options.startTimeoutMs ?? 10_000, options.detached);
    try {
      await broker.writeConfig();
      await broker.launch();
    } catch (err) {
      broker.removeDir();
      throw err;
    }
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && isRunning(this.child);
  }

  /** Broker log output (stdout + stderr) of the current run. */
  get log(): string {
    return this.logText;
  }

  /** Stop the broker and delete its temp dir. */
  async stop(graceMs = 5000): Promise<void> {
    try {
      if (this.child !== undefined) await terminate(this.child, 'SIGTERM', graceMs);
    } finally {
      this.removeDir();
    }
  }

  /** SIGKILL (broker crash); the temp dir is kept so it can be started again. */
  async kill(): Promise<void> {
    if (this.child !== undefined) await terminate(this.child, 'SIGKILL', 5000);
  }

  /** Stop and start again on the same port with the same users. */
  async restart(): Promise<void> {
    if (this.child !== undefined) await terminate(this.child, 'SIGTERM', 5000);
    await this.launch();
  }

  /** Start again after kill() (same port and users). */
  async startAgain(): Promise<void> {
    if (this.running) throw new Error('mosquitto is already running');
    await this.launch();
  }

  private removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }

  private async writeConfig(): Promise<void> {
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      'persistence false',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
    ];
    // As root mosquitto drops to user "mosquitto", who cannot read our temp dir.
    if (process.getuid?.() === 0) lines.push('user root');
    if (this.users === undefined) {
      lines.push('allow_anonymous true');
    } else {
      const passwordFile = join(this.dir, 'passwd');
      writeFileSync(passwordFile, Object.entries(this.users).map(([u, p]) => `${u}:${p}\n`).join(''), { mode: 0o600 });
      const tool = resolveExecutable('mosquitto_passwd');
      if (tool === undefined) throw new Error('mosquitto_passwd not found (apt-get install mosquitto)');
      await execFileAsync(tool, ['-U', passwordFile], { timeout: 10_000 }); // hash in place
      lines.push('allow_anonymous false', `password_file ${passwordFile}`);
    }
    writeFileSync(this.configFile, `${lines.join('\n')}\n`);
  }

  private async launch(): Promise<void> {
    const bin = resolveExecutable('mosquitto');
    if (bin === undefined) throw new Error('mosquitto not found on PATH or in /usr/sbin (apt-get install mosquitto)');
    this.logText = '';
    // mosquitto cannot notice its parent dying, so when the runner is killed by
    // a signal (no 'exit' hook) have the kernel kill it: setpriv sets
    // PR_SET_PDEATHSIG and execs mosquitto (same pid).
    const setpriv = resolveExecutable('setpriv');
    const [file, args] = setpriv !== undefined
      ? [setpriv, ['--pdeathsig', 'KILL', bin, '-c', this.configFile]]
      : [bin, ['-c', this.configFile]];
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached });
    this.child = child;
    killOnExit(child);
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.logText = (this.logText + chunk).slice(-64_000);
      });
    }
    // A forgotten broker must not keep the test process alive; the exit hook kills it.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();

    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    try {
      const deadline = Date.now() + this.startTimeoutMs;
      for (;;) {
        if (spawnError !== undefined) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
        if (!isRunning(child)) throw new Error(`mosquitto exited with code ${child.exitCode} before accepting`);
        if (await tcpConnects(this.port)) break;
        if (Date.now() > deadline) {
          throw new Error(`mosquitto not accepting on 127.0.0.1:${this.port} within ${this.startTimeoutMs} ms`);
        }
        await delay(50);
      }
    } catch (err) {
      await terminate(child, 'SIGKILL', 2000).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n--- mosquitto log ---\n${this.logText.trim()}`, { cause: err });
    }
  }
}

function tcpConnects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
