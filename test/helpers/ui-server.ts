/**
 * homebridge-ui/server.js forked over IPC exactly as homebridge-config-ui-x forks it (silent, with
 * HOMEBRIDGE_STORAGE_PATH / HOMEBRIDGE_CONFIG_PATH), with the UI's request/response protocol.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './homebridge.js';
import { killOnExit, terminate } from './processes.js';
import { withTimeout } from './wait.js';

export interface UiMessage {
  action: string;
  payload: { requestId?: number; success?: boolean; data?: unknown; server?: boolean; event?: string };
}

export class UiServer {
  readonly messages: UiMessage[] = [];
  readonly output: string[] = [];
  private readonly waiters: Array<() => void> = [];
  private lastId = 0;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: UiMessage) => {
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    const onData = (chunk: Buffer): void => {
      this.output.push(chunk.toString('utf8'));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  static async start(o: { storagePath: string; configPath: string }): Promise<UiServer> {
    const child = fork(join(REPO_ROOT, 'homebridge-ui', 'server.js'), [], {
      silent: true,
      env: { ...process.env, HOMEBRIDGE_STORAGE_PATH: o.storagePath, HOMEBRIDGE_CONFIG_PATH: o.configPath },
    });
    killOnExit(child);
    const server = new UiServer(child);
    try {
      const ready = await server.next((m) => m.action === 'ready');
      if (ready.payload.server !== true) throw new Error('server.js sent an unexpected ready message');
    } catch (error) {
      await server.dispose();
      throw error;
    }
    return server;
  }

  /** The first message (seen or coming) that matches, bounded. */
  next(pred: (m: UiMessage) => boolean, timeoutMs = 15_000): Promise<UiMessage> {
    return withTimeout(new Promise<UiMessage>((resolve) => {
      const check = (): void => {
        const hit = this.messages.find(pred);
        if (hit) resolve(hit);
        else this.waiters.push(check);
      };
      check();
    }), timeoutMs, 'IPC message from server.js');
  }

  /** One request as the page makes it; the reply's payload ({ success, data }). */
  async request(path: string, body: unknown, timeoutMs = 30_000): Promise<UiMessage['payload']> {
    const requestId = ++this.lastId;
    this.child.send({ action: 'request', requestId, path, body });
    return (await this.next((m) => m.action === 'response' && m.payload.requestId === requestId, timeoutMs)).payload;
  }

  /** What the UI does when the page closes: disconnect; resolves once the child has exited. */
  async disconnectAndWait(timeoutMs = 10_000): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.child.disconnect();
    await withTimeout(exited, timeoutMs, 'server.js exit after disconnect');
  }

  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) await terminate(this.child, 'SIGTERM', 5000);
  }
}
