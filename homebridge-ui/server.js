// The settings page's server: forked by the Homebridge UI while the page is open. Kept thin and in
// plain JavaScript (it runs untranspiled); the routes live in dist/ui/ui-requests.js with the
// plugin's own probe, FFmpeg argv builders and redaction.
import { HomebridgePluginUiServer, RequestError } from '@homebridge/plugin-ui-utils';
import { UiRequestFailure, UiRequests } from '../dist/ui/ui-requests.js';

class CctvUiServer extends HomebridgePluginUiServer {
  constructor() {
    super();
    const requests = new UiRequests({ storagePath: this.homebridgeStoragePath, configPath: this.homebridgeConfigPath });
    const route = (path, handler) => {
      this.onRequest(path, async (body) => {
        try {
          return await handler(body);
        } catch (error) {
          // Only our own, already redacted messages go to the page; anything else stays generic.
          const message = error instanceof UiRequestFailure ? error.message : 'the request failed (see the Homebridge UI log)';
          if (!(error instanceof UiRequestFailure)) console.error(`${path}: ${error instanceof Error ? error.name : 'error'}`);
          throw new RequestError(message, { path });
        }
      });
    };
    route('/status', () => requests.status());
    route('/snapshot', (body) => requests.snapshot(body));
    route('/test-connection', (body) => requests.testConnection(body));
    route('/ffmpeg', () => requests.ffmpeg());
    // The page closed: plugin-ui-utils answers 'disconnect' with SIGTERM to itself. One teardown for
    // both: probes, FFmpeg jobs and the MQTT subscription end, then the process exits (bounded).
    const shutdown = () => {
      setTimeout(() => process.exit(0), 2000).unref();
      requests.close().finally(() => process.exit(0));
    };
    process.once('SIGTERM', shutdown);
    process.once('disconnect', shutdown);
    this.ready();
  }
}

(() => new CctvUiServer())();
