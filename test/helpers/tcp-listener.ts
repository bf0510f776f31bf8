/**
 * A bare TCP listener on 127.0.0.1 for fault tests: counts connection attempts (when each came) and
 * records the first bytes each client sent. `hold` keeps sockets open and silent (a camera or
 * broker that accepts but never answers); `close` hangs up at once (a service that refuses).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';

export interface AcceptedConnection {
  /** performance.now() when accepted. */
  at: number;
  /** Everything the client sent, up to 64 KiB. */
  data: Buffer;
}

export class TcpListener {
  readonly connections: AcceptedConnection[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(options: { port?: number; mode?: 'hold' | 'close' } = {}): Promise<TcpListener> {
    const mode = options.mode ?? 'hold';
    const server = net.createServer();
    const ref: { listener?: TcpListener } = {};
    server.on('connection', (socket) => {
      const listener = ref.listener;
      const record: AcceptedConnection = { at: performance.now(), data: Buffer.alloc(0) };
      listener?.connections.push(record);
      listener?.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => listener?.sockets.delete(socket));
      socket.on('data', (chunk: Buffer) => {
        if (record.data.length < 65_536) record.data = Buffer.concat([record.data, chunk]).subarray(0, 65_536);
      });
      if (mode === 'close') socket.destroy();
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: options.port ?? 0, exclusive: true }, () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
    ref.listener = new TcpListener(server, port);
    return ref.listener;
  }

  /** Accepted sockets the client has not closed yet (a client that gave up must close its own). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Connections accepted at or after `since` (a performance.now() value). */
  countSince(since: number): number {
    return this.connections.filter((c) => c.at >= since).length;
  }

  /** The text each client sent (latin1), in order. */
  texts(): string[] {
    return this.connections.map((c) => c.data.toString('latin1'));
  }

  /** Stop listening and drop every open socket; resolves when the server is closed. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP forwarder on 127.0.0.1 in front of a real server (e.g. mosquitto): counts every connection
 * attempt a client makes, which the server itself may not log (mosquitto buffers its stdout log).
 */
export class TcpProxy {
  readonly connections: number[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly clients = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = net.createServer();
    const ref: { proxy?: TcpProxy } = {};
    server.on('connection', (client) => {
      const proxy = ref.proxy;
      proxy?.connections.push(performance.now());
      proxy?.clients.add(client);
      client.on('close', () => proxy?.clients.delete(client));
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [client, upstream]) {
        proxy?.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          proxy?.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
    ref.proxy = new TcpProxy(server, port);
    return ref.proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  countSince(since: number): number {
    return this.connections.filter((at) => at >= since).length;
  }

  /** Client connections not closed yet (by the client, or by the server behind the proxy). */
  get openSockets(): number {
    return this.clients.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** UDP sockets (IPv4 and IPv6) held open by `pid`, from /proc (Linux; same user or root). */
export function udpSocketCount(pid: number): number {
  const inodes = new Set<string>();
  const fs = processFs();
  for (const fd of fs.readdir(`/proc/${pid}/fd`)) {
    const target = fs.readlink(`/proc/${pid}/fd/${fd}`);
    const match = target && /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1]) inodes.add(match[1]);
  }
  let count = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = fs.read(table) ?? '';
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inodes.has(inode)) count++;
    }
  }
  return count;
}

/**
 * TCP listening sockets held by `pid`, as "address:port" (IPv4 dotted, IPv6 as "[hex]"), from /proc
 * (Linux; same user or root). Proves a server bound loopback only.
 */
export function tcpListenAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  const fs = processFs();
  for (const fd of fs.readdir(`/proc/${pid}/fd`)) {
    const target = fs.readlink(`/proc/${pid}/fd/${fd}`);
    const match = target && /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1]) inodes.add(match[1]);
  }
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = fs.read(table) ?? '';
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address(1) is HEXADDR:HEXPORT; st(3) 0A is LISTEN; inode is field 9.
      if (fields[3] !== '0A' || !fields[9] || !inodes.has(fields[9])) continue;
      const [addr = '', port = '0'] = (fields[1] ?? '').split(':');
      const ip = addr.length === 8 ? (addr.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.') : `[${addr}]`;
      out.push(`${ip}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

function processFs(): { readdir: (p: string) => string[]; readlink: (p: string) => string | undefined; read: (p: string) => string | undefined } {
  return {
    readdir: (p) => {
      try {
        return readdirSync(p);
      } catch {
        return [];
      }
    },
    readlink: (p) => {
      try {
        return readlinkSync(p);
      } catch {
        return undefined; // fd closed between listing and reading
      }
    },
    read: (p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}
