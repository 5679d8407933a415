import { describe, expect, it } from 'vitest';
import { packageCommand } from '../../../src/mcp/packages/command-form.js';
import { parsePackageSpec } from '../../../src/mcp/packages/spec.js';

describe('package command forms', () => {
  it('maps npm:, npx -y, npx --yes, bare npx, npx -p and npm exec onto one package spec', () => {
    expect(packageCommand(['npm:@modelcontextprotocol/server-memory@2026.8.31', '--x'])).toEqual({
      spec: { name: '@modelcontextprotocol/server-memory', range: '2026.8.31' },
      args: ['--x'],
      form: 'npm:',
    });
    for (const argv of [
      ['npx', '-y', '@scope/pkg', '/data'],
      ['npx', '--yes', '@scope/pkg', '/data'],
      ['npx', '@scope/pkg', '/data'],
      ['/usr/bin/npx', '-y', '@scope/pkg', '/data'],
      ['npm', 'exec', '--yes', '--', '@scope/pkg', '/data'],
      ['npm', 'x', '-y', '@scope/pkg', '/data'],
    ]) {
      expect(packageCommand(argv)).toMatchObject({ spec: { name: '@scope/pkg' }, args: ['/data'] });
    }
    expect(packageCommand(['npx', '-y', '-p', 'some-pkg@1', 'the-bin', 'a'])).toMatchObject({
      spec: { name: 'some-pkg', range: '1' },
      bin: 'the-bin',
      args: ['a'],
    });
  });

  it('leaves any other command alone', () => {
    expect(packageCommand(['node', 'server.js'])).toBeUndefined();
    expect(packageCommand(['npm', 'start'])).toBeUndefined();
  });

  it('refuses uvx with the reason and the remedy, not a hang', () => {
    expect(() => packageCommand(['uvx', 'mcp-server-time'])).toThrow(
      /Python packages are not supported.*pipx install mcp-server-time.*oacp mcp run -- /,
    );
  });

  it('refuses npx options it cannot honour, and specs that are not registry packages', () => {
    expect(() => packageCommand(['npx', '--registry', 'http://evil', 'pkg'])).toThrow(
      /--registry.*not supported/,
    );
    for (const bad of [
      'git+https://example.com/x.git',
      'pkg@file:../x',
      'pkg@http://evil/x.tgz',
      '../local',
      'UPPER',
      'pkg@1.0.0; rm -rf /',
    ]) {
      expect(() => parsePackageSpec(bad), bad).toThrow(/PACKAGE_SPEC|not/);
    }
  });
});
