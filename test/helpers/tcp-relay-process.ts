/**
 * A TCP relay (TcpProxy) to a port on 127.0.0.1, in a process of its own, so a test can freeze it
 * with SIGSTOP: a frozen relay keeps the far side's connection open while the near side is gone,
 * which is how a broker sees a client that lost power. Run as a script, it relays to argv[2].
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit, terminate } from './processes.js';
import { TcpProxy } from './tcp-listener.js';
import { waitFor } from './wait.js';

const THIS_FILE = fileURLToPath(import.meta.url);

export class TcpRelayProcess {
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  static async start(targetPort: number): Promise<TcpRelayProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, String(targetPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const port = await waitFor(() => /^relay (\d+)$/m.exec(output)?.[1] ?? (child.exitCode === null ? undefined : fail(output)), {
        timeoutMs: 20_000, what: `the relay to port ${targetPort} (output: ${output})`,
      });
      return new TcpRelayProcess(child, Number(port));
    } catch (error) {
      await terminate(child, 'SIGKILL', 2000).catch(() => undefined);
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  /** Thaws it (a stopped process cannot act on SIGTERM) and kills it; resolves once it exited. */
  async stop(): Promise<void> {
    this.child.kill('SIGCONT');
    await terminate(this.child, 'SIGKILL', 5000);
  }
}

function fail(output: string): never {
  throw new Error(`relay exited: ${output}`);
}

if (process.argv[1] === THIS_FILE) {
  const proxy = await TcpProxy.start(Number(process.argv[2]));
  process.stdout.write(`relay ${proxy.port}\n`);
  // Bounded even if nobody kills it.
  setTimeout(() => process.exit(1), 300_000).unref();
  setInterval(() => undefined, 60_000);
}
