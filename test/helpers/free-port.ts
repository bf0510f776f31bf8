import dgram from 'node:dgram';
import net from 'node:net';

/**
 * A port that is free on 127.0.0.1 right now (the OS picks it).
 * There is an unavoidable gap between closing our probe socket and the caller
 * binding it; prefer letting a server bind port 0 when it can report back.
 */
export function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return kind === 'tcp' ? freeTcpPort() : freeUdpPort();
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.unref();
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
