import { describe, expect, it } from 'vitest';
import { oacp } from './harness.js';

describe('oacp demo', () => {
  it('runs the real filesystem MCP server sandboxed, refuses the secret by policy, and verifies every receipt', async () => {
    const result = await oacp(['demo']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/in the (gvisor|hardened|light) tier/);
    expect(result.stdout).toContain('read_text_file (read it back): ok');
    expect(result.stdout).toMatch(/read_text_file \(read the secret\): DENIED, receipt #3: .*no-secrets/);
    expect(result.stdout.match(/, verified, trust level Standard/g)).toHaveLength(4);
    expect(result.stdout).toMatch(/refused: signatures/);
    expect(result.stdout).toContain('demo complete');
    expect(result.stdout).not.toContain('UNEXPECTED');
  });
});
