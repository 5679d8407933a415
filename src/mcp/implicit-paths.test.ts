import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { implicitReadPaths } from './implicit-paths.js';
import { executableThatRuns, serverIdentity } from './server-identity.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

describe('serverIdentity', () => {
  it('digests the executable, the script and the nearest package.json', () => {
    const identity = serverIdentity('memory', process.execPath, [SCRIPT, '--flag']);
    expect(identity.executable?.path).toBe(executableThatRuns(process.execPath));
    expect(identity.executable?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(identity.script?.path).toBe(SCRIPT);
    expect(identity.package).toMatchObject({
      path: join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/package.json'),
      name: '@modelcontextprotocol/server-memory',
      version: expect.any(String),
    });
  });

  it('finds a bare command on the sandbox PATH and leaves out what it cannot find', () => {
    expect(executableThatRuns('sh')).toMatch(/\/(ba|da)?sh$/);
    expect(executableThatRuns('no-such-program-oacp')).toBeUndefined();
    const identity = serverIdentity('x', 'no-such-program-oacp', ['--help']);
    expect(identity.executable).toBeUndefined();
    expect(identity.script).toBeUndefined();
  });
});

describe('implicitReadPaths', () => {
  it("grants the executable and the script's package up to the outermost node_modules", () => {
    const paths = implicitReadPaths(serverIdentity('memory', process.execPath, [SCRIPT]));
    expect(paths).toContain(executableThatRuns(process.execPath));
    expect(paths).toContain(join(ROOT, 'node_modules/@modelcontextprotocol/server-memory'));
    expect(paths).toContain(join(ROOT, 'node_modules'));
    expect(paths).not.toContain(ROOT);
  });

  it('grants a runtime prefix only when it is not a shared system prefix', () => {
    const withPrefix = implicitReadPaths({
      name: 'x',
      executable: { path: '/opt/node-v20/bin/node', sha256: '0'.repeat(64) },
    });
    expect(withPrefix).toEqual(['/opt/node-v20/bin/node', '/opt/node-v20']);
    const system = implicitReadPaths({
      name: 'x',
      executable: { path: '/usr/bin/node', sha256: '0'.repeat(64) },
    });
    expect(system).toEqual(['/usr/bin/node']);
  });

  it('never takes a directory two levels into a system directory for a prefix, and does take a project two levels deep', () => {
    const prefixOf = (dir: string) =>
      implicitReadPaths({ name: 'x', executable: { path: `${dir}/bin/node`, sha256: '0'.repeat(64) } });
    // /var/lib and /usr/share hold every package's data: only the interpreter itself is granted.
    for (const dir of ['/var/lib', '/usr/share', '/var/cache', '/etc/ssl', '/lib/x86_64-linux-gnu', '/app']) {
      expect(prefixOf(dir), dir).toEqual([`${dir}/bin/node`]);
    }
    for (const dir of ['/srv/app', '/opt/app', '/tmp/oacp-no-such-project', '/var/lib/app']) {
      expect(prefixOf(dir), dir).toEqual([`${dir}/bin/node`, dir]);
    }
  });
});
