import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planFeedExit, type FeedExit, type FeedExitPlan } from '../../src/source/feed-lifecycle.js';

describe('planFeedExit: what the shared feed does when its FFmpeg exits', () => {
  const cases: { name: string; exit: FeedExit; plan: FeedExitPlan }[] = [
    { name: 'idle stop, nobody came back: stay off', exit: { retired: true, failed: false, closed: false, holds: 0 }, plan: { endAttached: false, next: 'none' } },
    { name: 'idle stop, a hold arrived while it died: fresh feed now, nobody ended', exit: { retired: true, failed: false, closed: false, holds: 2 }, plan: { endAttached: false, next: 'start' } },
    { name: 'a stalled feed retired by the linger, a hold came back: fresh feed now', exit: { retired: true, failed: true, closed: false, holds: 1 }, plan: { endAttached: false, next: 'start' } },
    { name: 'close while an idle stop was in flight: everyone told, no restart', exit: { retired: true, failed: false, closed: true, holds: 1 }, plan: { endAttached: true, next: 'none' } },
    { name: 'close of a running feed', exit: { retired: true, failed: false, closed: true, holds: 3 }, plan: { endAttached: true, next: 'none' } },
    { name: 'the running feed failed with viewers: they end, retry after backoff', exit: { retired: false, failed: true, closed: false, holds: 2 }, plan: { endAttached: true, next: 'backoff' } },
    { name: 'the running feed failed with no holder', exit: { retired: false, failed: true, closed: false, holds: 0 }, plan: { endAttached: true, next: 'none' } },
    { name: 'the running feed ended cleanly with holders (camera closed the session): restart now', exit: { retired: false, failed: false, closed: false, holds: 1 }, plan: { endAttached: true, next: 'start' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(planFeedExit(c.exit), c.plan));
});
