import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeRtsp } from '../../src/health/rtsp-probe.js';
import type { ProbeResult } from '../../src/health/rtsp-probe.js';
import { freePort } from '../helpers/free-port.js';
import { withTimeout } from '../helpers/wait.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';

const USER = 'admin';
// Characters that need URL encoding, to prove userinfo is decoded before hashing.
const PASSWORD = 's3cr:t@/pw%';
const WRONG = 'Wr0ngPassw0rd!';

/** The password must not appear anywhere in a result, raw or URL-encoded. */
function assertNoSecret(result: ProbeResult, secret: string): void {
  const text = JSON.stringify(result);
  for (const form of [secret, encodeURIComponent(secret)]) assert.ok(!text.includes(form), `secret leaked: ${text}`);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no address'));
      else resolve(address.port);
    });
  });
}

const figures: string[] = [];
after(() => {
  if (figures.length > 0) console.log(`# probe figures: ${figures.join('; ')}`);
});

describe('RTSP probe against a real RTSP server', { timeout: 120_000 }, () => {
  let camera: RtspCamera;
  let basicOnly: RtspCamera;
  let digestOnly: RtspCamera;
  let open: RtspCamera;

  before(async () => {
    [camera, basicOnly, digestOnly, open] = await Promise.all([
      RtspCamera.start({ width: 1280, height: 720, fps: 15, user: USER, password: PASSWORD, audio: true }),
      RtspCamera.start({ width: 640, height: 360, fps: 10, user: USER, password: PASSWORD, authMethods: ['basic'] }),
      RtspCamera.start({ width: 1920, height: 1080, fps: 15, user: USER, password: PASSWORD, authMethods: ['digest'] }),
      RtspCamera.start({ width: 640, height: 480, fps: 10 }),
    ]);
  });

  after(async () => {
    await Promise.all([camera, basicOnly, digestOnly, open].map((c) => c?.stop()));
  });

  const okCases = [
    { name: 'Basic + Digest offered (Digest used), with audio', cam: () => camera, width: 1280, height: 720, fps: 15, audio: true },
    { name: 'Basic only', cam: () => basicOnly, width: 640, height: 360, fps: 10, audio: false },
    { name: 'Digest only', cam: () => digestOnly, width: 1920, height: 1080, fps: 15, audio: false },
    { name: 'no auth', cam: () => open, width: 640, height: 480, fps: 10, audio: false },
  ];
  for (const c of okCases) {
    it(`ok: ${c.name}`, async () => {
      const cam = c.cam();
      const first = await probeRtsp(cam.url, { timeoutMs: 5000 });
      const second = await probeRtsp(cam.url, { timeoutMs: 5000 }); // warm
      assert.ok(first.ok, JSON.stringify(first));
      assert.ok(second.ok);
      assert.equal(first.video.codec, 'h264');
      assert.equal(first.video.width, c.width);
      assert.equal(first.video.height, c.height);
      assert.ok(first.video.sps, 'SPS decoded from sprop-parameter-sets');
      if (first.video.fps !== undefined) assert.equal(Math.round(first.video.fps), c.fps);
      assert.match(first.video.profileLevelId ?? '', /^[0-9a-f]{6}$/);
      if (c.audio) assert.deepEqual(first.audio, { codec: 'pcm_alaw', sampleRate: 8000, channels: 1 });
      else assert.equal(first.audio, undefined);
      assert.ok(first.ms < 5000);
      assertNoSecret(first, PASSWORD);
      figures.push(`${c.name}: ${first.ms} ms cold, ${second.ms} ms warm`);
    });
  }

  const authCases = [
    { name: 'wrong password (Basic + Digest)', url: () => camera.urlWithCredentials(USER, WRONG), secret: WRONG },
    { name: 'wrong password (Basic only)', url: () => basicOnly.urlWithCredentials(USER, WRONG), secret: WRONG },
    { name: 'wrong password (Digest only)', url: () => digestOnly.urlWithCredentials(USER, WRONG), secret: WRONG },
    { name: 'wrong user, right password', url: () => camera.urlWithCredentials('intruder', PASSWORD), secret: PASSWORD },
    { name: 'no credentials', url: () => camera.urlWithoutCredentials, secret: PASSWORD },
  ];
  for (const c of authCases) {
    it(`401 → unauthorized: ${c.name}`, async () => {
      const result = await probeRtsp(c.url(), { timeoutMs: 5000 });
      assert.equal(result.ok, false);
      assert.equal(result.reason, 'unauthorized', JSON.stringify(result));
      assert.equal(result.status, 401);
      assertNoSecret(result, c.secret);
      assertNoSecret(result, PASSWORD);
      assert.match(result.message, /401/);
      if (c.name.includes('Digest only')) assert.match(result.message, /digest auth/);
      if (c.name.includes('Basic only')) assert.match(result.message, /basic auth/);
      if (c.name.includes('(Basic + Digest)')) assert.match(result.message, /digest auth/, 'Digest preferred over Basic');
    });
  }

  it('wrong path → not_found', async () => {
    const result = await probeRtsp(`rtsp://127.0.0.1:${open.port}/no-such-stream`, { timeoutMs: 5000 });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'not_found', JSON.stringify(result));
    assert.equal(result.status, 404);
  });

  it('wrong path with right credentials → not_found, no secret', async () => {
    const url = camera.urlWithCredentials(USER, PASSWORD).replace(camera.path, '/nope');
    const result = await probeRtsp(url, { timeoutMs: 5000 });
    assert.equal(result.ok, false);
    assert.ok(result.reason === 'not_found', JSON.stringify(result));
    assertNoSecret(result, PASSWORD);
    assert.ok(result.message.includes('admin:***@'), result.message);
  });
});

describe('RTSP probe failure modes (no camera)', { timeout: 30_000 }, () => {
  it('closed port → unreachable, from the refusal (not the timeout)', async () => {
    const port = await freePort();
    const result = await probeRtsp(`rtsp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/stream`, { timeoutMs: 5000 });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'unreachable');
    assert.match(result.message, /refused/);
    assert.ok(result.ms < 5000, `ended by the refusal, not by its 5 s bound: ${result.ms} ms`);
    assertNoSecret(result, PASSWORD);
    figures.push(`refused: ${result.ms} ms`);
  });

  it('accepts TCP but never answers → timeout within the bound', async () => {
    const sockets = new Set<Socket>();
    let serverSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (serverSawClose = resolve));
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => serverSawClose());
      s.resume(); // read (and ignore) the requests so the peer's FIN is seen
    });
    const port = await listen(server);
    try {
      const started = performance.now();
      const result = await probeRtsp(`rtsp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/stream`, { timeoutMs: 800 });
      const elapsed = performance.now() - started;
      assert.equal(result.ok, false);
      assert.equal(result.reason, 'timeout');
      // It gave up because of its own bound, not earlier (a timer never fires early; 5 ms of clock
      // granularity allowed). How much later is load, not correctness: the figure below.
      assert.ok(elapsed >= 795, `gave up after ${elapsed} ms, before its 800 ms bound`);
      assertNoSecret(result, PASSWORD);
      figures.push(`silent server timeout (800 ms bound): ${Math.round(elapsed)} ms`);
      // The probe closed its socket: the server sees the connection end.
      await withTimeout(closed, 2000, 'the probe to close its connection');
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('AbortSignal stops a hanging probe at once', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    const port = await listen(server);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const result = await probeRtsp(`rtsp://127.0.0.1:${port}/stream`, { timeoutMs: 10_000, signal: controller.signal });
      assert.equal(result.ok, false);
      assert.equal(result.reason, 'timeout');
      assert.match(result.message, /aborted/);
      assert.ok(result.ms < 10_000, `ended by the abort, not by its 10 s bound: ${result.ms} ms`);
      const pre = await probeRtsp(`rtsp://127.0.0.1:${port}/stream`, { signal: AbortSignal.abort() });
      assert.equal(pre.ok, false);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  const oddServers = [
    { name: 'an HTTP server', reply: 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', reason: 'bad_response' },
    { name: 'RTSP 500', reply: 'RTSP/1.0 500 Internal Server Error\r\nCSeq: 1\r\n\r\n', reason: 'bad_response', twice: true },
    { name: 'hang-up after accept', reply: null, reason: 'bad_response' },
    { name: 'RTSP 403', reply: 'RTSP/1.0 403 Forbidden\r\nCSeq: 1\r\n\r\n', reason: 'forbidden' },
    {
      name: 'SDP without video',
      reply: 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n',
      describe: 'v=0\r\nm=audio 0 RTP/AVP 0\r\n',
      reason: 'no_video',
    },
  ] as const;
  for (const c of oddServers) {
    it(`${c.name} → ${c.reason}`, async () => {
      const server = createServer((s) => {
        s.on('error', () => undefined);
        if (c.reply === null) {
          s.destroy();
          return;
        }
        let buffered = '';
        s.on('data', (d: Buffer) => {
          buffered += d.toString();
          for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
            const request = buffered.slice(0, end);
            buffered = buffered.slice(end + 4);
            const cseq = /CSeq: (\d+)/.exec(request)?.[1] ?? '1';
            if ('describe' in c && request.startsWith('DESCRIBE')) {
              s.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: ${c.describe.length}\r\n\r\n${c.describe}`);
            } else {
              s.write(c.reply.replace('CSeq: 1', `CSeq: ${cseq}`));
            }
          }
        });
      });
      const port = await listen(server);
      try {
        const result = await probeRtsp(`rtsp://127.0.0.1:${port}/stream`, { timeoutMs: 3000 });
        assert.equal(result.ok, false);
        assert.equal(result.reason, c.reason, JSON.stringify(result));
        assert.ok(result.ms < 3000, `ended by the answer, not by its 3 s bound: ${result.ms} ms`);
      } finally {
        server.close();
      }
    });
  }

  it('non-rtsp URL → bad_response without touching the network', async () => {
    const result = await probeRtsp('http://user:pw@127.0.0.1:1/x');
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'bad_response');
  });
});

/** UniFi Protect's shape: the first path segment is the stream's access token. */
const TOKEN = 'Xk3pQ9vT2mLw8RzA';

describe('RTSP probe: RTSPS and transport (real fixture cameras)', { timeout: 120_000 }, () => {
  let tlsOpen: RtspCamera;
  let tlsAuth: RtspCamera;
  let udpOnly: RtspCamera;

  before(async () => {
    [tlsOpen, tlsAuth, udpOnly] = await Promise.all([
      RtspCamera.start({ width: 640, height: 360, fps: 10, tls: true, path: `/${TOKEN}` }),
      RtspCamera.start({ width: 640, height: 360, fps: 10, tls: true, user: USER, password: PASSWORD }),
      RtspCamera.start({ width: 640, height: 360, fps: 10, udpOnly: true }),
    ]);
  });

  after(async () => {
    await Promise.all([tlsOpen, tlsAuth, udpOnly].map((c) => c?.stop()));
  });

  it('rtsps:// with a token path and ?enableSrtp: DESCRIBE over TLS with a self-signed certificate, SETUP over TCP passes', async () => {
    const url = `${tlsOpen.url}?enableSrtp`;
    assert.match(url, /^rtsps:\/\/127\.0\.0\.1:\d+\/Xk3pQ9vT2mLw8RzA\?enableSrtp$/);
    const result = await probeRtsp(url, { timeoutMs: 5000, transport: 'tcp' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual([result.video.codec, result.video.width, result.video.height], ['h264', 640, 360]);
    assert.equal(tlsOpen.requests('SETUP'), 1);
    await tlsOpen.waitForEvent((e) => e.event === 'request' && e['method'] === 'TEARDOWN', 3000, 0, 'the probe tearing its session down');
    assert.equal(tlsOpen.errorResponses(), 0, JSON.stringify(tlsOpen.eventsSince(0, 'error-response')));
    figures.push(`rtsps + SETUP: ${result.ms} ms`);
  });

  it('rtsps:// with Digest auth; a wrong password is unauthorized, and a failure names neither password nor token', async () => {
    const ok = await probeRtsp(tlsAuth.url, { timeoutMs: 5000 });
    assert.ok(ok.ok, JSON.stringify(ok));
    const wrong = await probeRtsp(tlsAuth.urlWithCredentials(USER, WRONG), { timeoutMs: 5000 });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.reason, 'unauthorized');
    assertNoSecret(wrong, WRONG);
    const missing = await probeRtsp(`rtsps://127.0.0.1:${tlsOpen.port}/${TOKEN}x?enableSrtp`, { timeoutMs: 5000 });
    assert.equal(missing.ok, false);
    assert.equal(missing.reason, 'not_found', JSON.stringify(missing));
    assertNoSecret(missing, `${TOKEN}x`);
    assert.match(missing.message, /rtsps:\/\/127\.0\.0\.1:\d+\/\*\*\*\?enableSrtp/);
  });

  it('rtsps:// at a plain RTSP port: a TLS failure, not a hang', async () => {
    const result = await probeRtsp(`rtsps://127.0.0.1:${udpOnly.port}/stream`, { timeoutMs: 3000 });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'bad_response', JSON.stringify(result));
    assert.ok(result.ms < 3000, `${result.ms} ms`);
  });

  it('a UDP-only camera: DESCRIBE works, SETUP over TCP is 461 unsupported_transport with the rtspTransport hint', async () => {
    const plain = await probeRtsp(udpOnly.url, { timeoutMs: 5000 });
    assert.ok(plain.ok, 'without the transport check the camera looks fine');
    const result = await probeRtsp(udpOnly.url, { timeoutMs: 5000, transport: 'tcp' });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'unsupported_transport', JSON.stringify(result));
    assert.equal(result.status, 461);
    assert.match(result.message, /461 .*set "rtspTransport": "udp"/);
    const udp = await probeRtsp(udpOnly.url, { timeoutMs: 5000, transport: 'udp' });
    assert.ok(udp.ok);
  });
});
