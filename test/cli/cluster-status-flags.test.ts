import { describe, expect, it } from 'vitest';
import { oacp } from './harness.js';

describe('oacp cluster status without --etcd', () => {
  it('is a usage error naming --etcd, not the etcd client library\'s "Error: ... no hosts specified"', async () => {
    const result = await oacp(['cluster', 'status']);
    expect(result.stderr).not.toMatch(/Error:|no hosts/);
    expect(result.stderr).toBe(
      'oacp: --etcd: give the URL of an etcd member, e.g. --etcd http://127.0.0.1:2379',
    );
    expect(result.code).toBe(2);
  });
});
