/**
 * The login and TLS part of MQTT.js's connect options, shared by the plugin's connection and the
 * settings page's read-only watch so both reach a broker the same way. Unset fields stay unset
 * (exactOptionalPropertyTypes: MQTT.js treats a present `undefined` differently from absent).
 */
import type { IClientOptions } from 'mqtt';

export interface MqttAuth {
  username?: string;
  password?: string;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean };
}

export function clientAuthOptions(auth: MqttAuth): Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> {
  const options: Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> = {};
  if (auth.username !== undefined) options.username = auth.username;
  if (auth.password !== undefined) options.password = auth.password;
  if (auth.tls) {
    if (auth.tls.ca !== undefined) options.ca = auth.tls.ca;
    if (auth.tls.cert !== undefined) options.cert = auth.tls.cert;
    if (auth.tls.key !== undefined) options.key = auth.tls.key;
    if (auth.tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = auth.tls.rejectUnauthorized;
  }
  return options;
}
