/**
 * Health for every camera, and MQTT when configured. Each camera gets a monitor (pure reducer +
 * probe loop) fed by its shared feed and viewers; every change goes to MQTT. Motion and doorbell
 * commands from MQTT are routed to the camera devices.
 */
import type { CameraConfig, MqttConfig, PlatformConfig } from '../config/config-types.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import { DEFAULT_HEALTH_POLICY } from '../health/health-reducer.js';
import { HealthMonitor } from '../health/health-monitor.js';
import { LoginGuard } from '../health/login-guard.js';
import type { Log } from '../logging.js';
import { MqttService } from '../mqtt/mqtt-service.js';
import { healthPayload } from '../mqtt/payloads.js';
import { StatusFile } from '../ui/status-file.js';
import type { SourceEvent } from '../source/shared-source.js';
import type { CameraDevice, CameraObserver } from './camera-device.js';

export interface PlatformHealthInit {
  config: PlatformConfig;
  log: Log;
  logFor: (camera: CameraConfig) => Log;
  devices: ReadonlyMap<string, CameraDevice>;
  version: string;
  /** Where the settings page reads health from (under the Homebridge storage path); none: no file. */
  statusPath?: string;
  /** The plugin's homepage (package.json), Home Assistant's `origin.support_url`. */
  homepage?: string;
  /** Stable per plugin instance: MQTT client id and Home Assistant node ids (see instance-id.ts). */
  instanceId: string;
}

export class PlatformHealth {
  private readonly monitors = new Map<string, HealthMonitor>();
  private mqtt: MqttService | undefined;
  private readonly statusFile: StatusFile | undefined;

  constructor(private readonly init: PlatformHealthInit) {
    this.statusFile = init.statusPath
      ? new StatusFile({ path: init.statusPath, pluginVersion: init.version, onError: (message) => init.log.warn(`status for the settings page: ${message}`) })
      : undefined;
    this.mqtt = init.config.mqtt ? this.createMqtt(init.config.mqtt) : undefined;
  }

  /** Any MQTT configuration error disables MQTT only: the cameras start regardless. */
  private createMqtt(config: MqttConfig): MqttService | undefined {
    const init = this.init;
    try {
      return new MqttService({
        config,
        cameras: init.config.cameras,
        log: init.log,
        version: init.version,
        ...(init.homepage ? { homepage: init.homepage } : {}),
        instanceId: init.instanceId,
        onCommand: (id, kind, value) => {
          const device = init.devices.get(id);
          if (!device) return 'unknown';
          if (kind === 'motion') return device.setMotion(value) ? 'done' : 'unsupported';
          if (!device.camera.doorbell) return 'unsupported';
          return value ? device.ring() : 'done';
        },
      });
    } catch (error) {
      init.log.error(`MQTT disabled: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  observerFor(camera: CameraConfig): CameraObserver {
    const loginGate = new LoginGuard({ log: this.init.logFor(camera) });
    const monitor = new HealthMonitor({
      url: camera.source,
      transport: camera.rtspTransport,
      loginGate,
      policy: { ...DEFAULT_HEALTH_POLICY, probeIntervalSeconds: this.init.config.probeIntervalSeconds },
      log: this.init.logFor(camera),
      feedIsLive: () => this.init.devices.get(camera.id)?.source.live ?? false,
      onChange: (state) => {
        this.mqtt?.publishHealth(camera.id, state);
        this.statusFile?.update(camera.id, { name: camera.name, health: healthPayload(state, Date.now()) });
      },
    });
    this.monitors.set(camera.id, monitor);
    // Every configured camera is on the dashboard from the start, before its first verdict.
    this.statusFile?.update(camera.id, { name: camera.name, health: healthPayload(monitor.state, Date.now()) });
    let lastEndFailed = false;
    // Every damage message of this camera's FFmpegs; the reducer judges its rise per stats sample.
    let decodeErrors = 0;
    return {
      loginGate,
      sourceEvent: (event: SourceEvent) => {
        switch (event.type) {
        case 'starting':
          if (lastEndFailed) monitor.feed({ type: 'restart' });
          monitor.feed({ type: 'stream-started', decodeErrors });
          break;
        case 'stats':
          monitor.feed({ type: 'stream-stats', fps: event.fps, bitrateKbps: event.bitrateKbps, frames: event.frames, decodeErrors });
          break;
        case 'stalled':
          monitor.feed({ type: 'stream-stalled' });
          break;
        case 'ended':
          lastEndFailed = event.failed;
          monitor.feed(event.failed && event.reason !== 'idle' && event.reason !== 'closed'
            ? { type: 'stream-ended', ok: false, reason: event.reason, message: event.message }
            : { type: 'stream-ended', ok: true });
          break;
        case 'first-keyframe':
          break;
        }
      },
      viewers: (count) => monitor.feed({ type: 'viewers', count }),
      firstFrame: (ms) => monitor.feed({ type: 'stream-first-frame', timeToFirstFrameMs: ms }),
      decodeEvidence: (count) => { decodeErrors += count; },
      streamInfo: () => {
        const video = monitor.video;
        return video ? { codec: video.codec, profileIdc: video.sps?.profileIdc, levelIdc: video.sps?.levelIdc, width: video.sps?.width ?? video.width, height: video.sps?.height ?? video.height } : undefined;
      },
      cameraDown: () => monitor.state.state === 'offline',
      recording: (state) => this.mqtt?.publishRecording(camera.id, state),
    };
  }

  start(): void {
    try {
      this.mqtt?.start();
    } catch (error) {
      this.init.log.error(`MQTT disabled: ${error instanceof Error ? error.message : String(error)}`);
      const broken = this.mqtt;
      this.mqtt = undefined;
      fireAndForget(this.init.log, 'closing the disabled MQTT client', async () => { await broken?.close(); });
    }
    for (const monitor of this.monitors.values()) monitor.start();
  }

  async close(): Promise<void> {
    for (const monitor of this.monitors.values()) monitor.close();
    this.statusFile?.close();
    await this.mqtt?.close();
  }
}
