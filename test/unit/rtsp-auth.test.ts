import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { basicAuthorization, digestAuthorization, parseChallenges, pickChallenge } from '../../src/health/rtsp-auth.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

describe('WWW-Authenticate parsing', () => {
  const cases = [
    {
      name: 'Digest with qop list and stale',
      headers: ['Digest realm="IP Camera(C1234)", nonce="abc123", qop="auth,auth-int", stale="TRUE", opaque="xyz"'],
      expected: [{ scheme: 'digest', realm: 'IP Camera(C1234)', nonce: 'abc123', qop: ['auth', 'auth-int'], stale: true, opaque: 'xyz' }],
    },
    {
      name: 'separate Digest and Basic headers',
      headers: ['Digest realm="cam", nonce="n1"', 'Basic realm="cam"'],
      expected: [
        { scheme: 'digest', realm: 'cam', nonce: 'n1', qop: [], stale: false },
        { scheme: 'basic', realm: 'cam', qop: [], stale: false },
      ],
    },
    {
      name: 'both challenges in one header, unquoted algorithm',
      headers: ['Digest realm="cam", nonce="n2", algorithm=MD5, Basic realm="cam"'],
      expected: [
        { scheme: 'digest', realm: 'cam', nonce: 'n2', algorithm: 'MD5', qop: [], stale: false },
        { scheme: 'basic', realm: 'cam', qop: [], stale: false },
      ],
    },
    { name: 'Digest without nonce is dropped', headers: ['Digest realm="cam"'], expected: [] },
    { name: 'unknown scheme', headers: ['Bearer realm="x"'], expected: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseChallenges(c.headers), c.expected));

  it('prefers a supported Digest over Basic, and Basic over an unsupported algorithm', () => {
    assert.equal(pickChallenge(parseChallenges(['Basic realm="a"', 'Digest realm="a", nonce="n"']))?.scheme, 'digest');
    assert.equal(pickChallenge(parseChallenges(['Digest realm="a", nonce="n", algorithm=SHA-512-256', 'Basic realm="a"']))?.scheme, 'basic');
  });
});

describe('Authorization headers', () => {
  it('RFC 2617 §3.5 example (qop=auth)', () => {
    const value = digestAuthorization({
      challenge: { scheme: 'digest', realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', opaque: '5ccc069c403ebaf9f0171e9517f40e41', qop: ['auth', 'auth-int'], stale: false },
      credentials: { username: 'Mufasa', password: 'Circle Of Life' },
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: '0a4f113b',
    });
    assert.ok(value?.includes('response="6629fae49393a05397450978507c4ef1"'), value);
    assert.ok(value?.includes('qop=auth, nc=00000001, cnonce="0a4f113b"'));
    assert.ok(value?.includes('opaque="5ccc069c403ebaf9f0171e9517f40e41"'));
  });

  it('legacy Digest without qop (RFC 2069 form most cameras use)', () => {
    const value = digestAuthorization({
      challenge: { scheme: 'digest', realm: 'cam', nonce: 'n0nce', qop: [], stale: false },
      credentials: { username: 'admin', password: 's3cret' },
      method: 'DESCRIBE',
      uri: 'rtsp://10.0.0.2:554/stream',
      nc: 1,
    });
    const expected = md5(`${md5('admin:cam:s3cret')}:n0nce:${md5('DESCRIBE:rtsp://10.0.0.2:554/stream')}`);
    assert.equal(value, `Digest username="admin", realm="cam", nonce="n0nce", uri="rtsp://10.0.0.2:554/stream", response="${expected}"`);
    assert.ok(!value.includes('s3cret'));
  });

  it('MD5-sess folds nonce and cnonce into HA1', () => {
    const value = digestAuthorization({
      challenge: { scheme: 'digest', realm: 'r', nonce: 'n', algorithm: 'MD5-sess', qop: ['auth'], stale: false },
      credentials: { username: 'u', password: 'p' },
      method: 'OPTIONS',
      uri: 'rtsp://h/s',
      nc: 2,
      cnonce: 'c',
    });
    const ha1 = md5(`${md5('u:r:p')}:n:c`);
    assert.ok(value?.includes(`response="${md5(`${ha1}:n:00000002:c:auth:${md5('OPTIONS:rtsp://h/s')}`)}"`));
  });

  it('unsupported algorithm → undefined', () => {
    assert.equal(
      digestAuthorization({ challenge: { scheme: 'digest', realm: 'r', nonce: 'n', algorithm: 'SHA-512-256', qop: [], stale: false }, credentials: { username: 'u', password: 'p' }, method: 'OPTIONS', uri: 'x', nc: 1 }),
      undefined,
    );
  });

  it('Basic', () => assert.equal(basicAuthorization({ username: 'Aladdin', password: 'open sesame' }), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='));
});
