import { describe, expect, it } from 'vitest';
import { oacp } from './harness.js';

// A repeatable required option has an empty list as its default, which commander takes as the
// option given: each command checks the list itself and names the flag.
describe('repeatable required flags left out', () => {
  it('cluster status without --etcd is a usage error naming --etcd, not the etcd client\'s "Error: ... no hosts specified"', async () => {
    const result = await oacp(['cluster', 'status']);
    expect(result.stderr).not.toMatch(/Error:|no hosts/);
    expect(result.stderr).toBe(
      'oacp: --etcd: give the URL of an etcd member, e.g. --etcd http://127.0.0.1:2379',
    );
    expect(result.code).toBe(2);
  });

  it("policy test without --policy is a usage error, not a deny that reads as the policy's answer", async () => {
    const result = await oacp([
      'policy',
      'test',
      '--action',
      'tools/call',
      '--principal',
      'a',
      '--resource',
      'b',
    ]);
    expect(result.stdout).not.toContain('deny');
    expect(result.stderr).toBe('oacp: --policy: give the Cedar policy file to test (repeatable)');
    expect(result.code).toBe(2);
  });
});
