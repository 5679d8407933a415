import { describe, expect, it } from 'vitest';
import { HeldLog } from '../../src/mcp/held-log.js';

describe('HeldLog: what a server started early writes before the bridge is ready', () => {
  it('keeps lines until released, then passes them on in order and the rest straight through', () => {
    const out: string[] = [];
    const held = new HeldLog((line) => out.push(line));
    held.line('one');
    held.line('two');
    expect(out).toEqual([]);
    held.release();
    held.line('three');
    held.release();
    expect(out).toEqual(['one', 'two', 'three']);
  });

  it('a stderr flood at boot is cut to a bounded amount, and the cut is said', () => {
    const out: string[] = [];
    const held = new HeldLog((line) => out.push(line));
    const line = 'x'.repeat(1024);
    for (let i = 0; i < 10_000; i++) held.line(line);
    held.release();
    const kept = out.filter((l) => l === line).length;
    expect(kept).toBeLessThanOrEqual(256);
    expect(kept).toBeGreaterThan(0);
    expect(out.at(-1)).toBe(
      `oacp: ${10_000 - kept} further lines written before the bridge was ready were dropped`,
    );
  });
});
