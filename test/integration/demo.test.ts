/**
 * The demo as a new user runs it (`bash scripts/demo.sh --loopback`), stopped the way a terminal's
 * Ctrl-C stops it: SIGINT to the whole foreground process group. It must shut down in order
 * (Homebridge first, then the broker and the camera), so the plugin never sees its broker vanish:
 * exit 0, no `ECONNRESET`, nothing on stderr (where Homebridge writes warnings and errors), and no
 * process of the demo left behind. The first run's installs are reused: demo.sh only checks them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HapCameraClient } from '../helpers/hap-camera-client.js';
import { REPO_ROOT, TEST_PIN } from '../helpers/homebridge.js';
import { descendants, isAlive, type ProcessInfo } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('the demo', { timeout: 300_000 }, () => {
  const storageDir = mkdtempSync(join(tmpdir(), 'cctv-demo-'));
  const seen = new Map<number, ProcessInfo>();
  after(() => {
    // Whatever the outcome, nothing of the demo may outlive the test.
    for (const pid of seen.keys()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('Ctrl-C (SIGINT to its process group): Homebridge stops first, exit 0, no ECONNRESET, no error, nothing left', async () => {
    // Its own process group, as a shell gives a foreground job; the test stands in for the terminal.
    const demo = spawn('bash', [join(REPO_ROOT, 'scripts', 'demo.sh'), '--loopback'], {
      cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CCTV_DEMO_STORAGE_DIR: storageDir, FORCE_COLOR: '0' },
    });
    const pid = demo.pid ?? assert.fail('the demo did not start');
    let stdout = '';
    let stderr = '';
    demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => demo.once('exit', (code, signal) => resolve({ code, signal })));
    const remember = (): void => {
      for (const p of descendants(pid)) seen.set(p.pid, p);
    };
    try {
      const banner = await waitFor(() => /HAP port (\d+), loopback only/.exec(stdout) ?? (demo.exitCode === null ? undefined : assert.fail(`demo exited:\n${stdout}\n${stderr}`)), {
        timeoutMs: 180_000, intervalMs: 200, what: `the demo's banner (output so far:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)})`,
      });
      // A viewer's snapshot, so the camera feed FFmpeg is running when Ctrl-C comes, as it would be
      // for someone who just looked at the camera in the Home app.
      const client = await HapCameraClient.pair({ port: Number(banner[1]), pin: TEST_PIN });
      try {
        await client.snapshot(640, 360);
      } finally {
        await client.close();
      }
      remember();
      const kinds = [...seen.values()].map(kind);
      for (const wanted of ['camera', 'mosquitto', 'homebridge', 'ffmpeg']) assert.ok(kinds.includes(wanted), `${wanted} running: ${kinds.join(', ')}`);

      process.kill(-pid, 'SIGINT');
      const sigintAt = performance.now();
      const outcome = await waitFor(async () => await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 200, undefined))]), {
        timeoutMs: 60_000, what: 'the demo to exit after SIGINT',
      });
      assert.deepEqual(outcome, { code: 0, signal: null }, `${stdout.slice(-3000)}\n${stderr}`);
      const down = stdout.slice(stdout.indexOf('Stopping:'));
      console.log(`demo: exit 0 ${((performance.now() - sigintAt) / 1000).toFixed(1)} s after SIGINT; on the way down:\n${down.trim()}`);
      const all = `${stdout}\n${stderr}`;
      assert.ok(!all.includes('ECONNRESET'), all.slice(-3000));
      const bad = all.split('\n').filter((l) => /ECONNRESET|EPIPE|\berror\b/i.test(l));
      assert.deepEqual(bad, [], 'no error line on the way down');
      assert.equal(stderr.trim(), '', 'nothing on stderr: Homebridge writes warnings and errors there');
      // Homebridge was stopped before the broker: its goodbye went out while the broker was up.
      assert.match(stdout, /Got SIGTERM, shutting down Homebridge/);
      await waitFor(() => [...seen.keys()].every((p) => !isAlive(p)), {
        timeoutMs: 10_000, what: `every process of the demo to be gone (${[...seen.values()].filter((p) => isAlive(p.pid)).map((p) => `${p.pid} ${kind(p)}`).join(', ')})`,
      });
    } finally {
      if (demo.exitCode === null && demo.signalCode === null) process.kill(-pid, 'SIGKILL');
    }
  });
});

function kind(p: ProcessInfo): string {
  if (p.comm === 'ffmpeg') return 'ffmpeg';
  if (p.comm === 'mosquitto') return 'mosquitto';
  if (p.args.includes('rtsp-camera.py')) return 'camera';
  if (p.args.includes('homebridge')) return 'homebridge';
  return p.comm;
}
