import { describe, expect, it } from 'vitest';
import { type Timers, Watchdog, type WatchdogEvent } from './watchdog.js';

function manualTimers() {
  let now = 0;
  const pending: { at: number; run: () => void; id: number }[] = [];
  let next = 1;
  const timers: Timers = {
    now: () => now,
    setTimeout: (run, ms) => {
      const id = next++;
      pending.push({ at: now + ms, run, id });
      return id;
    },
    clearTimeout: (handle) => {
      const i = pending.findIndex((p) => p.id === handle);
      if (i !== -1) pending.splice(i, 1);
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (;;) {
      const due = pending.filter((p) => p.at <= now).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      pending.splice(pending.indexOf(due), 1);
      due.run();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { timers, advance, pending };
}

const policy = { initialDelayMs: 100, maxDelayMs: 1000, maxRestarts: 3, stableAfterMs: 10_000 };

describe('watchdog', () => {
  it('restarts with exponential backoff and gives up after maxRestarts consecutive crashes', async () => {
    const { timers, advance } = manualTimers();
    const events: WatchdogEvent[] = [];
    const dog = new Watchdog(policy, (e) => events.push(e), timers);
    dog.watch('a');
    const failing = async () => {
      throw new Error('init threw');
    };
    expect(dog.crashed('a', 'boom', failing)).toBe(true);
    await advance(99);
    expect(events.filter((e) => e.type === 'restart-failed')).toHaveLength(0);
    await advance(1);
    await advance(200);
    await advance(400);
    const crashes = events.filter((e) => e.type === 'crashed');
    expect(crashes.map((e) => (e.type === 'crashed' ? e.delayMs : 0))).toEqual([100, 200, 400]);
    expect(events.at(-1)).toMatchObject({ type: 'gave-up', key: 'a', crashes: 4 });
    expect(dog.restarting('a')).toBe(false);
  });

  it('caps the delay and resets the count after a healthy run', async () => {
    const { timers, advance } = manualTimers();
    const events: WatchdogEvent[] = [];
    const dog = new Watchdog({ ...policy, maxDelayMs: 150, maxRestarts: 10 }, (e) => events.push(e), timers);
    dog.watch('a');
    let restarts = 0;
    const ok = async () => {
      restarts += 1;
    };
    dog.crashed('a', 'x', ok);
    await advance(100);
    dog.crashed('a', 'x', ok);
    await advance(150);
    dog.crashed('a', 'x', ok);
    expect(events.filter((e) => e.type === 'crashed').at(-1)).toMatchObject({ attempt: 3, delayMs: 150 });
    await advance(150);
    dog.healthy('a');
    dog.crashed('a', 'x', ok);
    expect(events.filter((e) => e.type === 'crashed').at(-1)).toMatchObject({ attempt: 1, delayMs: 100 });
    expect(restarts).toBe(3);
  });

  it('treats a sandbox that stayed up past stableAfterMs as healthy', async () => {
    const { timers, advance } = manualTimers();
    const events: WatchdogEvent[] = [];
    const dog = new Watchdog(policy, (e) => events.push(e), timers);
    dog.watch('a');
    dog.crashed('a', 'x', async () => undefined);
    await advance(100);
    await advance(20_000);
    dog.crashed('a', 'x', async () => undefined);
    expect(events.filter((e) => e.type === 'crashed').at(-1)).toMatchObject({ attempt: 1 });
  });

  it('cancels a pending restart when the agent is stopped', async () => {
    const { timers, advance, pending } = manualTimers();
    const dog = new Watchdog(policy, () => undefined, timers);
    let restarted = false;
    dog.crashed('a', 'x', async () => {
      restarted = true;
    });
    expect(pending).toHaveLength(1);
    dog.forget('a');
    await advance(1000);
    expect(restarted).toBe(false);
  });
});
