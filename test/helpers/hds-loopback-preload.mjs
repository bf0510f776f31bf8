// Preloaded into the Homebridge child (node --import), and so into its child bridges (fork keeps
// execArgv): tests stay on loopback, but two servers in Homebridge listen on every interface.
// HAP-NodeJS's HomeKit Data Stream server calls net.Server.listen() with no port and no host, and its
// HAP server listens on 0.0.0.0 even with `bind: ['127.0.0.1']` (it restricts only the mDNS
// advertiser, so the config UI can always reach it over loopback). Both are pinned to 127.0.0.1;
// listens that name a specific host or a path are left alone.
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first, second] = args;
  if (args.length === 0 || typeof first === 'function') return listen.call(this, 0, LOOPBACK, ...args);
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (args.length === 1 || typeof second === 'function') return listen.call(this, first, LOOPBACK, ...args.slice(1));
    if (typeof second === 'string' && UNSPECIFIED.has(second)) return listen.call(this, first, LOOPBACK, ...args.slice(2));
  }
  if (typeof first === 'object' && first !== null && first.path === undefined && first.fd === undefined && first.handle === undefined
    && (first.host === undefined || UNSPECIFIED.has(first.host))) {
    return listen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1));
  }
  return listen.apply(this, args);
};
