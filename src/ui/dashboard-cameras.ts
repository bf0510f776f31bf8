/**
 * Which health each dashboard tile shows: the broker's retained health when it has some for the
 * camera, else the status file's (a camera whose retained topic was lost or never written still
 * shows what the plugin last reported), else nothing. Pure; each camera says where its health came from.
 */
import type { HealthPayload } from '../mqtt/payloads.js';

export type HealthSource = 'mqtt' | 'file';

export interface DashboardCamera {
  id: string;
  name: string;
  /** null: the plugin has not reported this camera (not running, or just added). */
  health: HealthPayload | null;
  /** Where `health` came from; null when there is none. */
  source: HealthSource | null;
}

export function dashboardCameras(
  cameras: readonly { id: string; name: string }[],
  fromBroker: ReadonlyMap<string, HealthPayload | null> | null,
  fromFile: ((id: string) => HealthPayload | null) | null,
): DashboardCamera[] {
  return cameras.map(({ id, name }) => {
    const broker = fromBroker?.get(id) ?? null;
    if (broker) return { id, name, health: broker, source: 'mqtt' };
    const file = fromFile?.(id) ?? null;
    return { id, name, health: file, source: file ? 'file' : null };
  });
}
