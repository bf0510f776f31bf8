/**
 * Preloaded into Homebridge by the leak tests (NODE_OPTIONS=--import=…): on SIGWINCH it runs a full
 * garbage collection and prints one `MEMSTAT {json}` line, so memory is compared after a GC instead
 * of at whatever size V8 and malloc happened to have grown to.
 */
import process from 'node:process';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

process.on('SIGWINCH', () => {
  gc();
  gc();
  const m = process.memoryUsage();
  process.stdout.write(`MEMSTAT ${JSON.stringify({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external })}\n`);
});
