import { describe, expect, it } from 'vitest';
import { parseMcpRunOptions } from './options.js';

describe('parseMcpRunOptions', () => {
  it('fills defaults and parses units', () => {
    const options = parseMcpRunOptions({
      command: ['node', 'server.js'],
      allowFiles: ['/data:rw', '/etc/hosts', '/srv/*.txt:ro'],
      quotaMemory: '256mb',
      quotaCpu: '2s',
      quotaCalls: '5/s',
      http: '127.0.0.1:3333',
    });
    expect(options).toMatchObject({
      tier: 'hardened',
      attestLevel: 'basic',
      approvalTimeout: 120_000,
      allowFiles: [
        { path: '/data', writable: true },
        { path: '/etc/hosts', writable: false },
        { path: '/srv/*.txt', writable: false },
      ],
      quotaMemory: 256,
      quotaCpu: 2000,
      quotaCalls: 300,
      http: { host: '127.0.0.1', port: 3333 },
    });
    expect(parseMcpRunOptions({ command: ['x'], quotaMemory: '1g', http: '8080' })).toMatchObject({
      quotaMemory: 1024,
      http: { host: '127.0.0.1', port: 8080 },
    });
    expect(parseMcpRunOptions({ command: ['x'], http: '[::1]:9000' }).http).toEqual({
      host: '::1',
      port: 9000,
    });
  });

  it.each([
    [{}, /^--command: give exactly one of/],
    [{ command: ['x'], upstream: 'http://h/mcp' }, /exactly one of/],
    [{ command: ['x'], tier: 'chroot' }, /^--tier chroot:/],
    [{ command: ['x'], quotaMemory: 'lots' }, /^--quota-memory lots: must be a size/],
    [{ command: ['x'], quotaCalls: '0/min' }, /^--quota-calls 0\/min: must allow/],
    [{ command: ['x'], allowFiles: ['data'] }, /^--allow-files data: must be an absolute path/],
    [
      { command: ['x'], allowFiles: ['/tmp/x:rw:ro'] },
      /^--allow-files \/tmp\/x:rw:ro: the grant mode ":rw:ro" must be one of :ro or :rw/,
    ],
    [
      { command: ['x'], allowFiles: ['/tmp/x:ro:ro'] },
      /^--allow-files \/tmp\/x:ro:ro: the grant mode ":ro:ro" must be one of :ro or :rw/,
    ],
    [
      { command: ['x'], allowFiles: ['/tmp/x:rx'] },
      /^--allow-files \/tmp\/x:rx: the grant mode ":rx" must be one of :ro or :rw/,
    ],
    [
      { command: ['x'], allowFiles: ['/tmp/x:RW'] },
      /^--allow-files \/tmp\/x:RW: the grant mode ":RW" must be one of :ro or :rw/,
    ],
    [{ command: ['x'], http: 'localhost:99999' }, /^--http localhost:99999: port must be at most 65535/],
    [{ command: ['x'], attestLevel: 'standard' }, /^--agent: --attest-level standard needs --agent/],
    [{ command: ['x'], httpAuth: 'none' }, /^--http-auth none: --http-auth needs --http HOST:PORT/],
    [{ command: ['x'], httpTokenFile: '/t' }, /^--http-token-file \/t: --http-token-file needs --http/],
    [{ command: ['x'], http: '127.0.0.1:1', httpAuth: 'open' }, /^--http-auth open: must be bearer/],
    [
      { command: ['x'], http: '0.0.0.0:1', httpAuth: 'none' },
      /^--http-auth none: 0\.0\.0\.0 is not a loopback address/,
    ],
    [{ command: ['x'], http: '[::]:1', httpAuth: 'none' }, /^--http-auth none: :: is not a loopback address/],
    [
      { command: ['x'], http: '127.0.0.1:1', httpAuth: 'none', httpTokenFile: '/t' },
      /^--http-token-file \/t: a token file with --http-auth none/,
    ],
    [{ command: ['x'], surprise: true }, /^options: /],
    // A light server runs as the home's owner: it could read the desk's token and approve itself.
    [
      { command: ['x'], tier: 'light', requireApproval: ['write_file'] },
      /^--tier light: the light tier runs servers as you.*--require-approval \(require_approval in oacp.yaml\) runs in tier hardened \(the default\) or gvisor$/,
    ],
  ])('refuses %j', (input, message) => {
    expect(() => parseMcpRunOptions(input)).toThrow(message);
  });
});
