import { describe, expect, it } from 'vitest';
import { identityFact } from './doctor.js';
import { WORKLOAD_ID } from './native/identity.js';

describe('oacp doctor: workload identity', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'as root names the mechanism this host gets (idmapped mounts here)',
    () => {
      const fact = identityFact();
      expect(fact.name).toBe('workload identity');
      // This host (kernel 6.18, ext4 /tmp) has idmapped mounts; elsewhere the line says why not and the opt-out.
      expect(fact.ok ? fact.detail : `${fact.detail}`).toMatch(
        fact.ok
          ? new RegExp(`idmapped mounts \\(workload uid ${WORKLOAD_ID}`)
          : /--allow-unenforced identity/,
      );
    },
  );

  it.skipIf(process.getuid?.() === 0)('not root: the invoking user', () => {
    expect(identityFact()).toMatchObject({ ok: true, detail: expect.stringContaining('invoking user') });
  });
});
