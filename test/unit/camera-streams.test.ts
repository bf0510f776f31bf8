import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../../src/logging.js';
import { CameraStreams, type StreamProbeInfo, type StreamSpec } from '../../src/source/camera-streams.js';
import { SharedSource } from '../../src/source/shared-source.js';

const quiet: Log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const MAIN_URL = 'rtsp://127.0.0.1:8554/main';
const SUB_URL = 'rtsp://127.0.0.1:8554/sub';

/** A feed that is never held, so no FFmpeg is started: only what the probes said decides. */
function feed(url: string): SharedSource {
  return new SharedSource({ ffmpegPath: 'ffmpeg', args: { input: { url, transport: 'tcp' }, audio: false }, lingerMs: 0, log: quiet, redact: (t) => t });
}

describe('CameraStreams probes', () => {
  it('a stream that gave no answer at start-up is probed again at a later viewer choice', async () => {
    let cameraUp = false;
    const asked: string[] = [];
    const probe = (url: string): Promise<StreamProbeInfo | undefined> => {
      asked.push(url);
      if (!cameraUp) return Promise.resolve(undefined);
      return Promise.resolve(url === MAIN_URL ? { codec: 'h264', width: 1920, height: 1080, audioCodec: 'none' } : { codec: 'h264', width: 640, height: 360, audioCodec: 'none' });
    };
    const substreams: StreamSpec[] = [{ name: 'sub', url: SUB_URL, width: 640, height: 360 }];
    const streams = new CameraStreams({
      main: feed(MAIN_URL), mainUrl: MAIN_URL, substreams, createSource: (spec) => feed(spec.url),
      probe, probeWaitMs: 1000, reprobeAfterMs: 0, log: quiet,
    });
    // Homebridge came up before the camera (a power cut): nothing answers.
    await streams.learn();
    const signal = new AbortController().signal;
    const early = await streams.viewerFeed({ width: 1920, height: 1080 }, 'auto', signal);
    // Known only by its size hint: the small substream would be transcoded up to 1920x1080.
    assert.equal(early.stream, 'sub', early.note);

    cameraUp = true;
    const later = await streams.viewerFeed({ width: 1920, height: 1080 }, 'auto', signal);
    assert.equal(later.stream, 'main', later.note);
    assert.match(later.note, /1920x1080 H\.264/);
    // Answered streams are not asked again.
    const before = asked.length;
    await streams.viewerFeed({ width: 640, height: 360 }, 'auto', signal);
    assert.equal(asked.length, before);
    await streams.close();
  });

  it('a stream that answered without telling anything (login refused) is not asked again', async () => {
    const asked: string[] = [];
    const streams = new CameraStreams({
      main: feed(MAIN_URL), mainUrl: MAIN_URL, substreams: [{ name: 'sub', url: SUB_URL }], createSource: (spec) => feed(spec.url),
      probe: (url) => { asked.push(url); return Promise.resolve(url === MAIN_URL ? { codec: 'h264', width: 1920, height: 1080 } : { refused: true }); },
      probeWaitMs: 1000, reprobeAfterMs: 0, log: quiet,
    });
    await streams.learn();
    await streams.viewerFeed({ width: 640, height: 360 }, 'auto', new AbortController().signal);
    assert.deepEqual(asked, [MAIN_URL, SUB_URL]);
    await streams.close();
  });

  it('a substream whose login was refused is chosen neither for viewers nor for snapshots', async () => {
    const warnings: string[] = [];
    const main = feed(MAIN_URL);
    const streams = new CameraStreams({
      main, mainUrl: MAIN_URL, substreams: [{ name: 'sub', url: SUB_URL, width: 640, height: 360 }], createSource: (spec) => feed(spec.url),
      probe: (url) => Promise.resolve(url === MAIN_URL ? { codec: 'h264', width: 1920, height: 1080 } : { refused: true }),
      probeWaitMs: 1000, log: { ...quiet, warn: (m) => warnings.push(m) },
    });
    await streams.learn();
    // By its size hint the substream would fit both best.
    assert.equal(streams.snapshotFeed(640, 360), main);
    const pick = await streams.viewerFeed({ width: 640, height: 360 }, 'auto', new AbortController().signal);
    assert.equal(pick.stream, 'main', pick.note);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /stream sub: the camera refused the login/);
    await streams.close();
  });

  it('retries no more often than reprobeAfterMs', async () => {
    let calls = 0;
    const streams = new CameraStreams({
      main: feed(MAIN_URL), mainUrl: MAIN_URL, substreams: [{ name: 'sub', url: SUB_URL }], createSource: (spec) => feed(spec.url),
      probe: () => { calls++; return Promise.resolve(undefined); }, probeWaitMs: 1000, reprobeAfterMs: 3_600_000, log: quiet,
    });
    await streams.learn();
    await streams.viewerFeed({ width: 640, height: 360 }, 'auto', new AbortController().signal);
    assert.equal(calls, 2);
    await streams.close();
  });
});
