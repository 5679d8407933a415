import { describe, expect, it } from 'vitest';
import { OacpError } from '../core/errors.js';
import { parseManifest } from './parse.js';

const base = { apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'demo' };

function failure(value: unknown): string {
  try {
    parseManifest(value, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(OacpError);
    expect((error as OacpError).code).toBe('CAPABILITY_MANIFEST_INVALID');
    return (error as OacpError).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('manifest validation', () => {
  it('fills the seed defaults for omitted sections', () => {
    const manifest = parseManifest(base);
    expect(manifest.quotas.cpu_ms_per_request).toBe(1000);
    expect(manifest.quotas.network_requests_per_min).toBe(100);
    expect(manifest.capabilities.network.allowlist).toEqual([]);
  });

  it('names the field path and reason for a bad allowlist entry', () => {
    const message = failure({
      ...base,
      capabilities: { network: { allowlist: ['a.com', 'b.com', 'http://c.com/x'] } },
    });
    expect(message).toBe(
      'invalid capability manifest test.yaml: capabilities.network.allowlist[2]: must be host, host:port or *.domain',
    );
  });

  it('reports every problem, including unknown fields', () => {
    const message = failure({
      ...base,
      capabilities: { file_read: ['relative/path'], netwrk: {} },
      quotas: { cpu_ms_per_request: -5 },
    });
    expect(message).toContain('capabilities: unknown field "netwrk"');
    expect(message).toContain('capabilities.file_read[0]: must be an absolute path glob (start with /)');
    expect(message).toContain('quotas.cpu_ms_per_request:');
  });

  it.each([
    [{ capabilities: { network: { allowlist: ['host:99999'] } } }, 'capabilities.network.allowlist[0]'],
    [
      { capabilities: { network: { denylist: ['not a host'] } } },
      'capabilities.network.denylist[0]: must be a host',
    ],
    [{ capabilities: { env: ['BAD-NAME'] } }, 'capabilities.env[0]: must be an environment variable name'],
    [{ capabilities: { tools: { allow: ['a b'] } } }, 'capabilities.tools.allow[0]: must be a tool name'],
    [
      { capabilities: { file_write: ['/a/../b'] } },
      'capabilities.file_write[0]: must not contain .. segments',
    ],
    [{ apiVersion: 'v2' }, 'apiVersion:'],
    [{ capabilities: { unix_sockets: 'yes' } }, 'capabilities.unix_sockets:'],
  ])('refuses %j', (patch, expected) => {
    expect(failure({ ...base, ...patch })).toContain(expected);
  });

  it('refuses Unix sockets unless capabilities.unix_sockets is true', () => {
    expect(parseManifest(base).capabilities.unix_sockets).toBeUndefined();
    expect(parseManifest({ ...base, capabilities: { unix_sockets: true } }).capabilities.unix_sockets).toBe(
      true,
    );
  });

  it('accepts CIDR blocks and hosts in the denylist', () => {
    const manifest = parseManifest({
      ...base,
      capabilities: {
        network: { allowlist: ['*.example.com'], denylist: ['10.0.0.0/8', 'fd00::/8', 'x.example.com'] },
      },
    });
    expect(manifest.capabilities.network.denylist).toHaveLength(3);
  });
});
