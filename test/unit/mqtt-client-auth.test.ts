/** src/mqtt/client-auth.ts: the login/TLS options both MQTT clients hand to MQTT.js. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAuthOptions, type MqttAuth } from '../../src/mqtt/client-auth.js';

describe('clientAuthOptions', () => {
  const cases: Array<[string, MqttAuth, Record<string, unknown>]> = [
    ['nothing set: nothing passed (no present-but-undefined keys)', {}, {}],
    ['login only', { username: 'u', password: 'p' }, { username: 'u', password: 'p' }],
    ['TLS files and verification off', { tls: { ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: false } }, { ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: false }],
    ['a TLS block with only some fields', { username: 'u', tls: { ca: 'CA' } }, { username: 'u', ca: 'CA' }],
  ];
  for (const [name, auth, expected] of cases) it(name, () => assert.deepEqual(clientAuthOptions(auth), expected));
});
