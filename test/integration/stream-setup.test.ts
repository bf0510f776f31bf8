/**
 * SetupEndpoints edge cases on the real delegate with real HAP-NodeJS enums and a real shared source
 * (its camera is unreachable: these cases never get to video): a STOP that arrives while a setup is
 * still being handled ends it, and an orphaned prepared session is evicted only for a valid request.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import * as hapNodejs from '@homebridge/hap-nodejs';
import type { API, PrepareStreamRequest, PrepareStreamResponse, StreamingRequest } from 'homebridge';
import type { CameraConfig } from '../../src/config/config-types.js';
import { hapEnums } from '../../src/hap/hap-enums.js';
import { StreamingDelegate } from '../../src/hap/streaming-delegate.js';
import type { Log } from '../../src/logging.js';
import type { SnapshotService } from '../../src/snapshot/snapshot-service.js';
import { SharedSource } from '../../src/source/shared-source.js';

const HAP = hapNodejs as unknown as API['hap'];
const enums = hapEnums(HAP);
const lines: string[] = [];
const log: Log = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: () => undefined };

const camera: CameraConfig = {
  id: 'c', name: 'C', source: 'rtsp://127.0.0.1:1/x', substreams: [], rtspTransport: 'tcp', unbridge: true, maxStreams: 1, prebuffer: false,
  video: { mode: 'copy', maxWidth: 1920, maxHeight: 1080, maxFps: 30, maxBitrate: 2000, encoder: 'libx264', copySender: 'node' },
  audio: { enabled: false, codec: 'auto' }, motion: false, motionTimeoutSeconds: 30, doorbell: false, doorbellMinIntervalSeconds: 5, recording: false,
};

function request(overrides: Partial<PrepareStreamRequest> = {}): PrepareStreamRequest {
  const suite = enums.SRTPCryptoSuites.AES_CM_128_HMAC_SHA1_80;
  const medium = { port: 40_000, srtpCryptoSuite: suite, srtp_key: Buffer.alloc(16, 1), srtp_salt: Buffer.alloc(14, 2) };
  return {
    sessionID: randomUUID(), sourceAddress: '127.0.0.1', targetAddress: '127.0.0.1', addressVersion: 'ipv4',
    video: { ...medium }, audio: { ...medium, port: 40_002 }, ...overrides,
  };
}

describe('stream setup edge cases', () => {
  const source = new SharedSource({ ffmpegPath: 'ffmpeg', args: { input: { url: camera.source, transport: 'tcp', timeoutSeconds: 2 }, audio: false }, lingerMs: 0, log, redact: (t) => t });
  const delegate = new StreamingDelegate({
    api: HAP, camera, ffmpegPath: 'ffmpeg', encoders: new Set(), source, snapshots: {} as SnapshotService, log, redact: (t) => t,
    timings: { viewerTimeoutMs: 10_000, startTimeoutMs: 12_000, copyFallbackMs: 6000, prepareTimeoutMs: 30_000 },
    streamInfo: () => undefined, onViewers: () => undefined, onFirstFrame: () => undefined,
  });

  after(async () => {
    await delegate.close();
    await source.close();
  });

  const prepare = (r: PrepareStreamRequest): Promise<{ error?: Error; response?: PrepareStreamResponse }> =>
    new Promise((resolve) => delegate.prepareStream(r, (error, response) => resolve({ error, response })));
  const stop = (sessionID: string): Promise<Error | undefined> =>
    new Promise((resolve) => delegate.handleStreamRequest({ sessionID, type: enums.StreamRequestTypes.STOP } as StreamingRequest, (error) => resolve(error)));

  it('a STOP during setup ends the session being set up', async () => {
    const r = request();
    const pending = prepare(r);
    // The setup is still binding its ports: HAP-NodeJS sends STOP when the controller disconnects now.
    assert.equal(await stop(r.sessionID), undefined);
    const { error } = await pending;
    assert.match(error?.message ?? '', /stopped during setup/);
    assert.equal(delegate.activeSessions, 0);
    assert.equal(source.holders, 0, 'the feed hold taken at SetupEndpoints was released');
  });

  it('an orphaned prepared session is evicted by a valid request, never by an invalid one', async () => {
    const orphan = request();
    assert.ok((await prepare(orphan)).response);
    assert.equal(delegate.activeSessions, 1);
    const bad = await prepare(request({ targetAddress: 'not-an-ip' }));
    assert.match(bad.error?.message ?? '', /invalid address/);
    assert.equal(delegate.activeSessions, 1, 'the invalid request did not push out the prepared session');
    const good = request();
    assert.ok((await prepare(good)).response);
    assert.equal(delegate.activeSessions, 1);
    assert.ok(lines.some((l) => /never started; HomeKit set up a new stream instead/.test(l)), lines.join('\n'));
    assert.equal(await stop(good.sessionID), undefined);
  });
});
