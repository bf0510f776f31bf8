import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FfmpegProcess } from '../../src/ffmpeg/ffmpeg-process.js';
import { describeTeardown, isTeardownReason } from '../../src/lifecycle/teardown-reason.js';

describe('teardown reasons', () => {
  it('recognises only the closed set', () => {
    const cases: Array<{ value: unknown; want: boolean }> = [
      { value: 'stopped-by-homekit', want: true },
      { value: 'idle', want: true },
      { value: 'viewer-gone', want: true },
      { value: 'stopped by HomeKit', want: false },
      { value: 'toString', want: false },
      { value: '', want: false },
      { value: undefined, want: false },
      { value: new Error('timeout'), want: false },
    ];
    for (const c of cases) assert.equal(isTeardownReason(c.value), c.want, String(c.value));
  });

  it('describes a reason in the words the logs have always used', () => {
    assert.equal(describeTeardown('stopped-by-homekit'), 'stopped by HomeKit');
    assert.equal(describeTeardown('closed'), 'shutting down');
  });
});

describe('FfmpegProcess stop reasons', () => {
  // A real FFmpeg that runs until it is told to stop.
  const forever = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5', '-f', 'null', '-'];
  const cases: Array<{ name: string; stop: (proc: FfmpegProcess, controller: AbortController) => Promise<unknown> | undefined; want: string }> = [
    { name: 'stop(reason) keeps the reason', stop: (proc) => proc.stop('idle'), want: 'idle' },
    { name: 'an abort with a teardown reason keeps it', stop: (_proc, controller) => { controller.abort('timeout'); return undefined; }, want: 'timeout' },
    { name: 'a bare abort() counts as cancelled', stop: (_proc, controller) => { controller.abort(); return undefined; }, want: 'cancelled' },
    { name: 'an abort with free text counts as cancelled', stop: (_proc, controller) => { controller.abort('because'); return undefined; }, want: 'cancelled' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const controller = new AbortController();
      const proc = new FfmpegProcess({ path: 'ffmpeg', args: forever, signal: controller.signal });
      const [exit] = await Promise.all([proc.exited, c.stop(proc, controller)]);
      assert.equal(exit.stopReason, c.want);
      assert.equal(proc.running, false);
    });
  }
});
