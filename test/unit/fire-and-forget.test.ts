import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fireAndForget } from '../../src/lifecycle/fire-and-forget.js';

function recorder(): { lines: string[]; log: { error: (m: string) => void } } {
  const lines: string[] = [];
  return { lines, log: { error: (m) => lines.push(m) } };
}

/**
 * Runs `body`, lets the microtask queue and two macrotasks drain, and returns every unhandled rejection
 * seen (node:test would also fail the test on one).
 */
async function unhandledDuring(body: () => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    body();
    await nextTurn();
    await nextTurn();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

describe('fireAndForget', () => {
  it('logs a rejected promise once, with what failed, and raises no unhandledRejection', async () => {
    const { lines, log } = recorder();
    const unhandled = await unhandledDuring(() => fireAndForget(log, 'Front door: health probe', Promise.reject(new Error('socket hang up'))));
    assert.deepEqual(lines, ['Front door: health probe failed: socket hang up']);
    assert.deepEqual(unhandled, []);
  });

  it('contains a function that throws before returning a promise, and a non-Error rejection', async () => {
    const { lines, log } = recorder();
    const unhandled = await unhandledDuring(() => {
      fireAndForget(log, 'start-up', () => {
        throw new TypeError('boom');
      });
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error rejection is the case under test
      fireAndForget(log, 'shutdown', () => Promise.reject('plain string'));
    });
    assert.deepEqual(lines, ['start-up failed: boom', 'shutdown failed: plain string']);
    assert.deepEqual(unhandled, []);
  });

  it('logs nothing for work that succeeds', async () => {
    const { lines, log } = recorder();
    const unhandled = await unhandledDuring(() => fireAndForget(log, 'stream stop', Promise.resolve(42)));
    assert.deepEqual(lines, []);
    assert.deepEqual(unhandled, []);
  });

  it('survives a logger that throws', async () => {
    const unhandled = await unhandledDuring(() => fireAndForget({ error: () => { throw new Error('log sink gone'); } }, 'x', Promise.reject(new Error('y'))));
    assert.deepEqual(unhandled, []);
  });
});
