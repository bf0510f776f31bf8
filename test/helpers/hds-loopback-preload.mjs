// Preloaded into the Homebridge child (node --import): HAP-NodeJS's HomeKit Data Stream server calls
// net.Server.listen() with no port and no host, i.e. on every interface. Tests stay on loopback, so
// a host-less listen is pinned to 127.0.0.1; listens that name a host or a path are left alone.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (args.length === 0 || typeof args[0] === 'function') return listen.call(this, 0, '127.0.0.1', ...args);
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) return listen.call(this, args[0], '127.0.0.1', ...args.slice(1));
  return listen.apply(this, args);
};
