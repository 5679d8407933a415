import { chmodSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildLauncher } from './build.js';

describe('buildLauncher', () => {
  it('refuses with the remedy when there is no C compiler', () => {
    expect(() => buildLauncher('/nonexistent/cc')).toThrow(
      expect.objectContaining({
        code: 'AIRLOCK_TIER_UNAVAILABLE',
        message: expect.stringContaining('/nonexistent/cc not found (apt-get install gcc)'),
      }),
    );
  });

  it('builds once, reuses the cached program, and rebuilds one that others could write', () => {
    const first = buildLauncher();
    expect(buildLauncher()).toBe(first);
    const built = statSync(first).mtimeMs;
    chmodSync(first, 0o777);
    const again = buildLauncher();
    expect(again).toBe(first);
    expect(statSync(again).mode & 0o022).toBe(0);
    expect(statSync(again).mtimeMs).toBeGreaterThanOrEqual(built);
  });
});
