import { describe, expect, it } from 'vitest';
import { describeHints, permissionHints } from '../../src/mcp/diagnose/permission-hints.js';

describe('a server from the store whose native module was never built', () => {
  it('names the install-scripts flag that builds it', () => {
    const lines = [
      'Error: Could not locate the bindings file. Tried:',
      ' → /t/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
    ];
    const hints = permissionHints(lines);
    expect(hints).toEqual([
      {
        permission: 'its install scripts (a native module that npm builds at install)',
        flag: 'oacp mcp add --allow-scripts npm:<package> (a regular user on a cgroup v1 host also needs --allow-unenforced memory,pids,cpu,disk_io)',
        manifest: 'none: an install-time choice, not a sandbox grant',
      },
    ]);
    expect(describeHints(hints)).toContain('oacp mcp add --allow-scripts npm:<package>');
    // Without it, a regular user on cgroup v1 is refused by the scripts' sandbox (AIRLOCK_LIMIT_UNENFORCED).
    expect(describeHints(hints)).toContain(
      'cgroup v1 host also needs --allow-unenforced memory,pids,cpu,disk_io',
    );
    expect(permissionHints(['Error: No native build was found for platform=linux arch=x64'])).toHaveLength(1);
    expect(permissionHints(['Server running on stdio'])).toEqual([]);
  });
});
