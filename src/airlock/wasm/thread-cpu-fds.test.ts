import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestThreadPool } from './thread-pool.js';

/** Descriptors of this process open on a thread's schedstat (a guest thread's own CPU clock keeps one). */
function schedstatDescriptors(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).endsWith('/schedstat')) count++;
    } catch {
      // Closed while listing (the listing's own descriptor among them).
    }
  }
  return count;
}

describe("a guest thread's own CPU clock", () => {
  it('keeps its schedstat open while the thread lives and leaves nothing open once the thread is terminated', async () => {
    const before = schedstatDescriptors();
    for (let round = 0; round < 3; round++) {
      const pool = await GuestThreadPool.create({ threads: 1 });
      await pool.place();
      expect(schedstatDescriptors()).toBe(before + 1);
      pool.close();
      const deadline = Date.now() + 5_000;
      while (schedstatDescriptors() > before && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(schedstatDescriptors()).toBe(before);
    }
  });
});
