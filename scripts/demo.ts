/**
 * The demo: a synthetic RTSP camera (moving test pattern, 2 s GOP), a local mosquitto and headless
 * Homebridge with this plugin. Prints the pairing code; Ctrl-C stops everything it started.
 *
 * Ctrl-C goes to the terminal's whole foreground process group. Had the broker and the camera been
 * in it, they would die at the same moment as Homebridge, and the plugin's last words would be an
 * MQTT `ECONNRESET`. So all three run in process groups of their own (they still die with this
 * process), and only this process hears Ctrl-C: it stops Homebridge first and waits for it (the
 * plugin says goodbye on MQTT and ends its FFmpegs), then the broker and the camera.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Homebridge, REPO_ROOT, TEST_PIN } from '../test/helpers/homebridge.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { RtspCamera } from '../test/helpers/rtsp-camera.js';

const loopback = process.argv.includes('--loopback') || process.env.CCTV_LOOPBACK === '1';
// CCTV_DEMO_STORAGE_DIR: a fresh Homebridge storage (test/integration/demo.test.ts pairs with it).
const storageDir = process.env.CCTV_DEMO_STORAGE_DIR || join(REPO_ROOT, '.cache', loopback ? 'demo-homebridge-loopback' : 'demo-homebridge');
mkdirSync(storageDir, { recursive: true });

const camera = await RtspCamera.start({ width: 1280, height: 720, fps: 15, gopSeconds: 2, audio: true, user: 'demo', password: 'demo-pass', detached: true });
const broker = await Mosquitto.start({ detached: true });
const hb = await Homebridge.start({
  storageDir,
  loopback,
  echo: true,
  detached: true,
  bridgeName: 'CCTV Demo',
  platform: {
    cameras: [{ id: 'demo', name: 'Demo Camera', source: camera.url, audio: { enabled: true } }],
    mqtt: { url: broker.url, topicPrefix: 'cctv' },
  },
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('Stopping: Homebridge first, then the broker and the camera...');
  // Bounded: SIGTERM, then SIGKILL after 15 s (Homebridge itself gives its plugins 5 s).
  await hb.stop('SIGTERM', 15_000);
  await Promise.allSettled([camera.stop(), broker.stop()]);
  process.exit(0);
}
const stopNow = (): void => {
  stop().catch((error: unknown) => {
    console.error('demo shutdown failed:', error);
    process.exit(1);
  });
};
process.on('SIGINT', stopNow);
process.on('SIGTERM', stopNow);

const port = await hb.accessoryPort('Demo Camera');
console.log([
  '',
  '================ homebridge-cctv demo ================',
  ` Camera:      Demo Camera (HAP port ${port}${loopback ? ', loopback only' : ''})`,
  ` Pairing code: ${TEST_PIN}   (Home app > Add Accessory > More options)`,
  ` Camera feed: ${camera.urlWithoutCredentials} (user demo)`,
  ` Health:      mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t 'cctv/#' -v`,
  ' Stop:        Ctrl-C',
  '======================================================',
  '',
].join('\n'));
if (process.env.CCTV_DEMO_EXIT_AFTER_MS) {
  // For scripted checks of the demo itself.
  setTimeout(stopNow, Number(process.env.CCTV_DEMO_EXIT_AFTER_MS)).unref();
}
