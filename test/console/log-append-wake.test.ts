import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogAppendWake } from '../../src/gateway/http/log-append-wake.js';

/** The receipt stream's wake-up: an append to the log file wakes waiting streams, with no timer to wait for. */
describe('LogAppendWake', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const forever = 10 * 60_000;

  it('wakes a waiter when the write-ahead log is written, after catching up once, and not for other files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-wake-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'log.wal'), '');
    let refreshed = 0;
    const wake = new LogAppendWake(dir, 'log.wal', async () => {
      refreshed += 1;
    });
    wake.open();
    try {
      const stop = new AbortController();
      let woke = false;
      const waiting = wake.next(wake.generation, forever, stop.signal).then(() => {
        woke = true;
      });
      writeFileSync(join(dir, 'checkpoint'), 'not the log');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(woke).toBe(false);
      appendFileSync(join(dir, 'log.wal'), 'a record');
      await waiting;
      expect(refreshed).toBeGreaterThanOrEqual(1);
      // A change between reading the generation and waiting is not lost.
      const seen = wake.generation;
      appendFileSync(join(dir, 'log.wal'), 'another');
      await expect.poll(() => wake.generation).toBeGreaterThan(seen);
      await wake.next(seen, forever, stop.signal);
    } finally {
      wake.close();
    }
  });

  it('falls back to a slow timer where the directory cannot be watched, still catching up', async () => {
    let refreshed = 0;
    const wake = new LogAppendWake('/nonexistent/oacp-log', 'log.wal', async () => {
      refreshed += 1;
    });
    wake.open();
    try {
      await wake.next(wake.generation, forever, new AbortController().signal);
      expect(refreshed).toBe(1);
    } finally {
      wake.close();
    }
  });

  it('releases a waiter when its stream goes away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-wake-'));
    dirs.push(dir);
    const wake = new LogAppendWake(dir, 'log.wal', async () => undefined);
    wake.open();
    const gone = new AbortController();
    const waiting = wake.next(wake.generation, forever, gone.signal);
    gone.abort();
    await waiting;
    wake.close();
  });
});
