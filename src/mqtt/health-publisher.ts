/**
 * Publishes each camera's health as retained `<prefix>/<id>/status` and `<prefix>/<id>/health`.
 * - status: only when the string changes (`starting` publishes no status, see statusPayload);
 * - health: at once when state or reason changes; metric-only changes (fps, bitrate, viewers …)
 *   at most every `minIntervalMs` (default 5 s) with a trailing publish of the latest values;
 *   identical payloads are never re-sent. `checkedAt` is left out of that comparison, otherwise
 *   every probe would republish an unchanged camera.
 */
import type { HealthState } from '../health/health-types.js';
import { healthPayload, statusPayload } from './payloads.js';
import type { HealthPayload } from './payloads.js';
import type { Topics } from './topics.js';

/** What the publisher needs from the connection (MqttConnection satisfies it). */
export interface RetainedPublisher {
  publishRetained(topic: string, payload: string): void;
}

export interface HealthPublisherOptions {
  connection: RetainedPublisher;
  topics: Pick<Topics, 'status' | 'health'>;
  /** Minimum spacing of metric-only health updates (default 5000 ms). */
  minIntervalMs?: number;
  now?: () => number;
}

interface Outgoing {
  json: string;
  key: string;
  stateReason: string;
}

interface CameraRecord {
  status?: string;
  sent?: Outgoing;
  sentAt: number;
  pending?: Outgoing;
  timer?: NodeJS.Timeout;
}

export const DEFAULT_HEALTH_MIN_INTERVAL_MS = 5000;

/** The payload minus `checkedAt`: what counts as "changed". */
function changeKey(payload: HealthPayload): string {
  const { checkedAt: _checkedAt, ...rest } = payload;
  return JSON.stringify(rest);
}

export class HealthPublisher {
  private readonly cameras = new Map<string, CameraRecord>();
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: HealthPublisherOptions) {
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_HEALTH_MIN_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  publish(cameraId: string, state: HealthState): void {
    if (this.closed) return;
    let record = this.cameras.get(cameraId);
    if (!record) {
      record = { sentAt: Number.NEGATIVE_INFINITY };
      this.cameras.set(cameraId, record);
    }
    const status = statusPayload(state);
    if (status !== null && status !== record.status) {
      record.status = status;
      this.options.connection.publishRetained(this.options.topics.status(cameraId), status);
    }

    const now = this.now();
    const payload = healthPayload(state, now);
    const next: Outgoing = { json: JSON.stringify(payload), key: changeKey(payload), stateReason: `${state.state}|${state.reason ?? ''}` };
    if (next.key === record.sent?.key) {
      // Back to what the broker already holds: a pending metric update is moot.
      this.cancelPending(record);
      return;
    }
    if (next.stateReason !== record.sent?.stateReason || now - record.sentAt >= this.minIntervalMs) {
      this.send(cameraId, record, next, now);
      return;
    }
    record.pending = next;
    if (!record.timer) {
      const delay = Math.max(0, record.sentAt + this.minIntervalMs - now);
      record.timer = setTimeout(() => this.flush(cameraId), delay);
      record.timer.unref();
    }
  }

  /** A removed camera: clear its retained status and health (empty retained payloads). */
  clear(cameraId: string): void {
    const record = this.cameras.get(cameraId);
    if (record) this.cancelPending(record);
    this.cameras.delete(cameraId);
    if (this.closed) return;
    this.options.connection.publishRetained(this.options.topics.status(cameraId), '');
    this.options.connection.publishRetained(this.options.topics.health(cameraId), '');
  }

  /** Send what is pending (the latest values), cancel every timer and ignore later calls. */
  close(): void {
    if (this.closed) return;
    for (const [cameraId, record] of this.cameras) {
      if (record.pending) this.send(cameraId, record, record.pending, this.now());
      this.cancelPending(record);
    }
    this.closed = true;
  }

  private flush(cameraId: string): void {
    const record = this.cameras.get(cameraId);
    if (!record) return;
    record.timer = undefined;
    if (record.pending && !this.closed) this.send(cameraId, record, record.pending, this.now());
  }

  private send(cameraId: string, record: CameraRecord, outgoing: Outgoing, now: number): void {
    this.cancelPending(record);
    record.sent = outgoing;
    record.sentAt = now;
    this.options.connection.publishRetained(this.options.topics.health(cameraId), outgoing.json);
  }

  private cancelPending(record: CameraRecord): void {
    clearTimeout(record.timer);
    record.timer = undefined;
    record.pending = undefined;
  }
}
