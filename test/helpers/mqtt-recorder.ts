/** A second MQTT client that records everything it sees, as Home Assistant or Node-RED would. */
import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from './wait.js';

export interface Recorded {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

export class MqttRecorder {
  readonly messages: Recorded[] = [];

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, at: performance.now() });
    });
  }

  static async connect(url: string, filters: string[], auth?: { username: string; password: string }): Promise<MqttRecorder> {
    const client = await mqtt.connectAsync(url, { ...auth, reconnectPeriod: 500, connectTimeout: 5000 });
    const recorder = new MqttRecorder(client);
    client.on('connect', () => void client.subscribeAsync(filters).catch(() => undefined));
    await client.subscribeAsync(filters);
    return recorder;
  }

  /** The newest payload on a topic, if any. */
  last(topic: string): Recorded | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]?.topic === topic) return this.messages[i];
    return undefined;
  }

  lastJson<T>(topic: string): T | undefined {
    const m = this.last(topic);
    return m && m.payload ? (JSON.parse(m.payload) as T) : undefined;
  }

  /** Waits for a message on `topic` (after index `from`) whose payload satisfies `pred`. */
  waitFor(topic: string, pred: (payload: string) => boolean, timeoutMs: number, from = 0): Promise<Recorded> {
    return waitFor(() => this.messages.slice(from).find((m) => m.topic === topic && pred(m.payload)), {
      timeoutMs, intervalMs: 50, what: `MQTT ${topic} (last: ${this.last(topic)?.payload ?? 'none'})`,
    });
  }

  publish(topic: string, payload: string, retain = false): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { retain, qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
