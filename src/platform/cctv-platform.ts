/**
 * The Homebridge platform: resolves config, waits for Homebridge to finish launching, probes FFmpeg
 * once, then reconciles HomeKit accessories with the configured cameras. Nothing here throws into
 * Homebridge: every failure is logged once with the camera it concerns.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig as HbPlatformConfig } from 'homebridge';
import type { CameraConfig, ConfigIssue, PlatformConfig } from '../config/config-types.js';
import { redactSecrets, redactUrlsInText, secretsInUrl } from '../config/redact.js';
import { resolveConfig } from '../config/validate-config.js';
import { chooseEncoder, describeCapabilities, probeCapabilities, tooOld, type FfmpegCapabilities } from '../ffmpeg/capabilities.js';
import { resolveFfmpeg } from '../ffmpeg/resolve-binary.js';
import type { Log } from '../logging.js';
import { PLATFORM_NAME, PLUGIN_NAME, UUID_NAMESPACE } from '../settings.js';
import { CameraDevice } from './camera-device.js';
import { pluginLog } from './plugin-log.js';
import { PlatformHealth } from './platform-health.js';
import { statusFilePath } from '../ui/status-file.js';
import { findChildBridge } from './child-bridge.js';
import { instanceId } from './instance-id.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import { SnapshotLimiter } from '../snapshot/snapshot-limiter.js';
import { PlaceholderImages } from '../snapshot/placeholder-images.js';

const PACKAGE = readPackage();
const VERSION = PACKAGE.version;

export class CctvPlatform implements DynamicPlatformPlugin {
  private readonly cached = new Map<string, PlatformAccessory>();
  private readonly devices = new Map<string, CameraDevice>();
  /** One cap on snapshot FFmpegs for all cameras: the Home app polls every tile at once. */
  private readonly snapshotLimiter = new SnapshotLimiter();
  private placeholderImages: PlaceholderImages | undefined;
  private readonly config: PlatformConfig | undefined;
  private readonly redact: (text: string) => string;
  private readonly log: Log;
  private health: PlatformHealth | undefined;
  private shuttingDown = false;
  /** The child bridge this instance runs on (its `_bridge.username`), undefined on the main bridge. */
  private readonly childBridge: string | undefined;

  constructor(private readonly hbLog: Logging, rawConfig: HbPlatformConfig | undefined, private readonly api: API) {
    const { config, issues } = resolveConfig(rawConfig ?? {});
    const secrets = [
      ...config.cameras.flatMap((c) => [...secretsInUrl(c.source), ...c.substreams.flatMap((s) => secretsInUrl(s.source)), ...(c.snapshotSource ? secretsInUrl(c.snapshotSource) : [])]),
      ...(config.mqtt?.password ? [config.mqtt.password] : []),
      ...(config.mqtt ? secretsInUrl(config.mqtt.url) : []),
    ];
    this.redact = (text) => redactSecrets(redactUrlsInText(text), secrets);
    this.log = pluginLog(hbLog, '', config.debug, this.redact);
    this.reportIssues(issues);
    const rawCameras = (rawConfig as { cameras?: unknown } | undefined)?.cameras;
    if (config.cameras.length === 0 && !(Array.isArray(rawCameras) && rawCameras.length > 0)) {
      this.log.info('no cameras configured; the plugin stays idle');
    }
    this.config = config;
    const bridge = findChildBridge(rawConfig, api.user.configPath());
    if (bridge.kind === 'unknown') {
      // Still one stable id per block, from its settings (it changes when they do).
      this.childBridge = `child-${createHash('sha256').update(JSON.stringify(rawConfig ?? {})).digest('hex').slice(0, 12)}`;
      this.log.warn(`child bridge not identified (${bridge.why}); its MQTT instance id and status file are keyed by its settings`);
    } else {
      this.childBridge = bridge.kind === 'child' ? bridge.username : undefined;
    }
    if (this.childBridge) this.log.debug(`running on child bridge ${this.childBridge}`);
    api.on('didFinishLaunching', () => {
      fireAndForget(this.log, 'start-up', () => this.launch());
    });
    api.on('shutdown', () => {
      fireAndForget(this.log, 'shutdown', () => this.shutdown());
    });
  }

  configureAccessory(accessory: PlatformAccessory): void {
    this.cached.set(accessory.UUID, accessory);
  }

  private reportIssues(issues: ConfigIssue[]): void {
    for (const issue of issues) {
      const consequence = issue.severity === 'warning' ? '' : issue.scope === 'camera' ? ' (camera skipped)' : issue.scope === 'mqtt' ? ' (MQTT disabled)' : ' (default used)';
      const line = `config: ${issue.subject}: field "${issue.field}" ${issue.message}${consequence}`;
      if (issue.severity === 'warning') this.log.warn(line);
      else this.log.error(line);
    }
  }

  private async launch(): Promise<void> {
    const config = this.config;
    if (!config) return;
    const configuredIds = new Set(config.cameras.map((c) => this.uuidFor(c)));
    // Removed cameras leave HomeKit even when FFmpeg is missing: the config is the truth.
    const stale = [...this.cached.values()].filter((a) => !configuredIds.has(a.UUID));
    if (stale.length) {
      this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, stale);
      for (const accessory of stale) {
        this.cached.delete(accessory.UUID);
        this.log.info(`removed "${accessory.displayName}" from HomeKit (no longer configured)`);
      }
    }
    if (config.cameras.length === 0) return;

    const choice = resolveFfmpeg(config.ffmpegPath);
    if (!choice.ok) {
      this.log.error(`FFmpeg unavailable, cameras not started: ${choice.message}`);
      return;
    }
    let caps: FfmpegCapabilities;
    try {
      caps = await probeCapabilities(choice.path);
    } catch (error) {
      this.log.error(`FFmpeg at ${choice.path} does not run (${error instanceof Error ? error.message : String(error)}); cameras not started`);
      return;
    }
    this.log.info(describeCapabilities(caps));
    const old = tooOld(caps.libavformat, caps.version);
    if (old) {
      this.log.error(`${old}; cameras not started`);
      return;
    }
    if (this.shuttingDown) return;

    const health = new PlatformHealth({
      config,
      log: this.log,
      logFor: (camera) => this.cameraLog(camera),
      devices: this.devices,
      version: VERSION,
      statusPath: statusFilePath(this.api.user.storagePath(), this.childBridge),
      ...(PACKAGE.homepage ? { homepage: PACKAGE.homepage } : {}),
      instanceId: config.mqtt ? instanceId({ storagePath: this.api.user.storagePath(), key: this.childBridge ?? 'main', log: this.log }) : '',
    });
    this.health = health;
    for (const camera of config.cameras) {
      try {
        this.addCamera(camera, caps, health);
      } catch (error) {
        this.log.error(`${camera.name}: could not be set up: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    health.start();
  }

  private placeholders(ffmpegPath: string): PlaceholderImages {
    this.placeholderImages ??= new PlaceholderImages(ffmpegPath);
    return this.placeholderImages;
  }

  private cameraLog(camera: CameraConfig): Log {
    return pluginLog(this.hbLog, camera.name, this.config?.debug ?? false, this.redact);
  }

  private uuidFor(camera: CameraConfig): string {
    return this.api.hap.uuid.generate(UUID_NAMESPACE + camera.id);
  }

  private addCamera(camera: CameraConfig, caps: FfmpegCapabilities, health: PlatformHealth): void {
    const uuid = this.uuidFor(camera);
    // Categories is a const enum in HAP-NodeJS's types; read the runtime values.
    const categories = (this.api.hap as unknown as { Categories: { VIDEO_DOORBELL: number; IP_CAMERA: number } }).Categories;
    const category = camera.doorbell ? categories.VIDEO_DOORBELL : categories.IP_CAMERA;
    let accessory = this.cached.get(uuid);
    if (camera.unbridge && accessory) {
      // Was bridged before: HomeKit must forget the bridged copy before the standalone one appears.
      this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
      this.cached.delete(uuid);
      accessory = undefined;
    }
    const isNew = !accessory;
    accessory ??= new this.api.platformAccessory(camera.name, uuid, category);
    accessory.context = { id: camera.id };
    const log = this.cameraLog(camera);
    const encoder = chooseEncoder(camera.video.encoder, caps.encoders);
    if (encoder.warning) log.warn(encoder.warning);
    if (encoder.encoder !== camera.video.encoder) camera = { ...camera, video: { ...camera.video, encoder: encoder.encoder } };
    const observer = health.observerFor(camera);
    const device = new CameraDevice({
      api: this.api, accessory, camera, ffmpegPath: caps.path, encoders: caps.encoders, ffmpegFeatures: caps.features,
      lingerMs: (this.config?.sourceLingerSeconds ?? 30) * 1000, log, redact: this.redact, observer, version: VERSION,
      snapshotSlots: this.snapshotLimiter.forCamera(camera.id), placeholders: this.placeholders(caps.path),
    });
    this.devices.set(camera.id, device);
    if (camera.unbridge) {
      this.api.publishExternalAccessories(PLUGIN_NAME, [accessory]);
    } else if (isNew) {
      this.api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
    } else {
      this.api.updatePlatformAccessories([accessory]);
    }
    log.info(`ready (${camera.unbridge ? 'own accessory' : 'bridged'}, ${camera.video.mode} video, ${camera.rtspTransport.toUpperCase()} transport, up to ${camera.maxStreams} viewers)`);
  }

  private async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const devices = [...this.devices.values()];
    this.devices.clear();
    // Each close() signals its FFmpeg children synchronously, so they go even if Homebridge exits now.
    await Promise.allSettled([...devices.map((d) => d.close()), this.health?.close()]);
  }
}

/** The plugin's version and (when package.json has one) its homepage, for MQTT discovery's `origin`. */
function readPackage(): { version: string; homepage?: string } {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown; homepage?: unknown };
    const version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    return typeof pkg.homepage === 'string' && /^https?:\/\//.test(pkg.homepage) ? { version, homepage: pkg.homepage } : { version };
  } catch {
    return { version: '0.0.0' };
  }
}
