/**
 * Health monitoring and MQTT for all cameras. Placeholder wiring until the health/MQTT modules land:
 * it hands each camera an observer and owns nothing yet.
 */
import type { Logging } from 'homebridge';
import type { CameraConfig, PlatformConfig } from '../config/config-types.js';
import type { Log } from '../logging.js';
import type { CameraDevice, CameraObserver } from './camera-device.js';

export interface PlatformHealthOptions {
  config: PlatformConfig;
  log: Log;
  hbLog: Logging;
  redact: (text: string) => string;
  devices: ReadonlyMap<string, CameraDevice>;
}

export class PlatformHealth {
  private constructor(private readonly o: PlatformHealthOptions) {}

  static async create(o: PlatformHealthOptions): Promise<PlatformHealth> {
    return new PlatformHealth(o);
  }

  observerFor(_camera: CameraConfig): CameraObserver {
    void this.o;
    return {
      sourceEvent: () => undefined,
      viewers: () => undefined,
      firstFrame: () => undefined,
      progress: () => undefined,
      streamInfo: () => undefined,
      cameraDown: () => false,
    };
  }

  start(): void {}

  async close(): Promise<void> {}
}
