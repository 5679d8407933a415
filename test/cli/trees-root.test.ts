import { describe, expect, it } from 'vitest';
import { treesRoot } from '../../src/mcp/packages/store.js';

describe('where the package store keeps trees', () => {
  it.skipIf(process.geteuid?.() !== 0)(
    'as root: /var/lib/oacp/packages, readable by the sandbox user',
    () => {
      expect(treesRoot('/root/.oacp', { HOME: '/root' })).toBe('/var/lib/oacp/packages');
    },
  );

  it('OACP_PACKAGE_STORE overrides it', () => {
    expect(treesRoot('/h/.oacp', { OACP_PACKAGE_STORE: '/srv/trees' })).toBe('/srv/trees');
  });
});
