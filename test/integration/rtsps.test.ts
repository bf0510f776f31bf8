import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rtspInputArgs } from '../../src/ffmpeg/args/input-args.js';
import { runToBuffer } from '../../src/ffmpeg/run-to-buffer.js';
import { probeRtsp } from '../../src/health/rtsp-probe.js';
import { RtspCamera } from '../helpers/rtsp-camera.js';
import { makeSelfSignedCert, type TlsCert } from '../helpers/tls-cert.js';

// UniFi Protect shape: rtsps://host:7441/<token>?enableSrtp; the token is the only secret.
const TOKEN = 'Q7xkP2mVn9RtLw4Z';

describe('RTSPS camera (UniFi Protect style, self-signed TLS, token path)', { timeout: 60_000 }, () => {
  let cert: TlsCert;
  let camera: RtspCamera;

  before(async () => {
    cert = makeSelfSignedCert();
    camera = await RtspCamera.start({ tlsCert: cert.pemPath, path: `/${TOKEN}`, width: 640, height: 360, fps: 15 });
  });
  after(async () => {
    await camera?.stop();
    cert?.remove();
  });

  it('the health probe speaks RTSP over TLS and reads the SDP', async () => {
    const result = await probeRtsp(`${camera.url}?enableSrtp`, { timeoutMs: 5000 });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.video.width, 640);
    assert.equal(result.video.height, 360);
  });

  it('a failure message never carries the token', async () => {
    const wrong = `${camera.scheme}://127.0.0.1:${camera.port}/${TOKEN}x?enableSrtp`;
    const result = await probeRtsp(wrong, { timeoutMs: 5000 });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'not_found');
    assert.ok(!JSON.stringify(result).includes(TOKEN), JSON.stringify(result));
  });

  it('FFmpeg decodes a frame from the same URL (what live view and idle snapshots read)', async () => {
    const { stdout, exit } = await runToBuffer({
      path: 'ffmpeg',
      args: ['-hide_banner', '-loglevel', 'error', ...rtspInputArgs({ url: `${camera.url}?enableSrtp`, transport: 'tcp', timeoutSeconds: 5 }), '-frames:v', '1', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'],
      timeoutMs: 10_000,
    });
    assert.equal(exit.code, 0, exit.stderr.join('\n'));
    assert.equal(stdout[0], 0xff);
    assert.equal(stdout[1], 0xd8);
  });
});
