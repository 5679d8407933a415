import { describe, expect, it } from 'vitest';
import { oacp } from './harness.js';

describe('oacp demo', () => {
  it('runs end to end: a sandboxed run, a Standard receipt in the log, and a refused tampered copy', async () => {
    const result = await oacp(['demo']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('no secret visible');
    expect(result.stdout).toContain('ok   log-inclusion');
    expect(result.stdout).toContain('trust level: Standard');
    expect(result.stdout).toMatch(/refused: signatures/);
    expect(result.stdout).not.toContain('UNEXPECTEDLY');
  });
});
