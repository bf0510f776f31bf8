/**
 * Health for every camera, and MQTT when configured. Each camera gets a monitor (pure reducer +
 * probe loop) fed by its shared feed and viewers; every change goes to MQTT. Motion and doorbell
 * commands from MQTT are routed to the camera devices.
 */
import type { CameraConfig, PlatformConfig } from '../config/config-types.js';
import { DEFAULT_HEALTH_POLICY } from '../health/health-reducer.js';
import { HealthMonitor } from '../health/health-monitor.js';
import { LoginGuard } from '../health/login-guard.js';
import type { Log } from '../logging.js';
import { MqttService } from '../mqtt/mqtt-service.js';
import type { SourceEvent } from '../source/shared-source.js';
import type { CameraDevice, CameraObserver } from './camera-device.js';

export interface PlatformHealthInit {
  config: PlatformConfig;
  log: Log;
  logFor: (camera: CameraConfig) => Log;
  devices: ReadonlyMap<string, CameraDevice>;
  version: string;
}

export class PlatformHealth {
  private readonly monitors = new Map<string, HealthMonitor>();
  private readonly mqtt: MqttService | undefined;

  constructor(private readonly init: PlatformHealthInit) {
    const mqtt = init.config.mqtt;
    this.mqtt = mqtt
      ? new MqttService({
        config: mqtt,
        cameras: init.config.cameras,
        log: init.log,
        version: init.version,
        onCommand: (id, kind, value) => {
          const device = init.devices.get(id);
          if (!device) return false;
          if (kind === 'motion') return device.setMotion(value);
          return value ? device.ring() : device.camera.doorbell;
        },
      })
      : undefined;
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
      onChange: (state) => this.mqtt?.publishHealth(camera.id, state),
    });
    this.monitors.set(camera.id, monitor);
    let lastEndFailed = false;
    return {
      loginGate,
      sourceEvent: (event: SourceEvent) => {
        switch (event.type) {
        case 'starting':
          if (lastEndFailed) monitor.feed({ type: 'restart' });
          monitor.feed({ type: 'stream-started' });
          break;
        case 'stats':
          monitor.feed({ type: 'stream-stats', fps: event.fps, bitrateKbps: event.bitrateKbps, frames: event.frames, decodeErrors: 0 });
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
      streamInfo: () => {
        const video = monitor.video;
        return video ? { codec: video.codec, profileIdc: video.sps?.profileIdc } : undefined;
      },
      cameraDown: () => monitor.state.state === 'offline',
    };
  }

  start(): void {
    this.mqtt?.start();
    for (const monitor of this.monitors.values()) monitor.start();
  }

  async close(): Promise<void> {
    for (const monitor of this.monitors.values()) monitor.close();
    await this.mqtt?.close();
  }
}
