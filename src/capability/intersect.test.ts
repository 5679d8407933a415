import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilePolicy } from './file-policy.js';
import { intersectManifests } from './intersect.js';
import type { Manifest } from './manifest.js';
import { decideEnv, decideTool } from './name-policy.js';
import { NetworkPolicy } from './network-policy.js';
import { parseManifest } from './parse.js';

function manifest(capabilities: unknown, quotas: unknown = {}): Manifest {
  return parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'm',
    capabilities,
    quotas,
  });
}

describe('intersectManifests', () => {
  it('keeps Unix sockets only where both parent and child allow them', () => {
    const on = manifest({ unix_sockets: true });
    const off = manifest({});
    expect(intersectManifests(on, on).capabilities.unix_sockets).toBe(true);
    expect(intersectManifests(off, on).capabilities.unix_sockets).toBeUndefined();
    expect(intersectManifests(on, off).capabilities.unix_sockets).toBeUndefined();
    expect(
      intersectManifests(manifest({ unix_sockets: false }), on).capabilities.unix_sockets,
    ).toBeUndefined();
  });

  it('leaves the Node preload out when either side turned it off (a route, not a grant)', () => {
    const off = manifest({ network: { node_preload: false } });
    const on = manifest({});
    expect(intersectManifests(off, on).capabilities.network.node_preload).toBe(false);
    expect(intersectManifests(on, off).capabilities.network.node_preload).toBe(false);
    expect(intersectManifests(on, on).capabilities.network.node_preload).toBeUndefined();
  });

  it('keeps a provider tool only where the parent (or the gateway ceiling) grants it too', () => {
    const parent = manifest({ models: { allow: ['*'], provider_tools: ['web_search_*'] } });
    const child = manifest({
      models: { allow: ['*'], provider_tools: ['web_search_20250305', 'web_fetch_*'] },
    });
    expect(intersectManifests(parent, child).capabilities.models.provider_tools).toEqual([
      'web_search_20250305',
    ]);
    expect(intersectManifests(manifest({}), child).capabilities.models.provider_tools).toEqual([]);
  });

  it('narrows a broad child request to what the parent holds', () => {
    const parent = manifest({
      file_read: ['/data/in/**'],
      network: { allowlist: ['api.example.com:443'], denylist: ['10.0.0.0/8'] },
      env: ['APP_*'],
      tools: { allow: ['github.*'], deny: ['github.delete_*'] },
    });
    const child = manifest({
      file_read: ['/data/**', '/etc/**'],
      network: { allowlist: ['*.example.com', 'evil.com'], denylist: ['bad.example.com'] },
      env: ['APP_MODE', 'AWS_*'],
      tools: { allow: ['*'], deny: ['shell'] },
    });
    const effective = intersectManifests(parent, child).capabilities;
    expect(effective.file_read).toEqual(['/data/in/**']);
    expect(effective.network.allowlist).toEqual(['api.example.com:443']);
    expect(effective.network.denylist).toEqual(['10.0.0.0/8', 'bad.example.com']);
    expect(effective.env).toEqual(['APP_MODE']);
    expect(effective.tools).toEqual({ allow: ['github.*'], deny: ['github.delete_*', 'shell'] });
  });

  it('keeps a narrow child request unchanged when the parent covers it', () => {
    const parent = manifest({ file_write: ['/out/**'], network: { allowlist: ['*.example.com'] } });
    const child = manifest({ file_write: ['/out/run-1/*'], network: { allowlist: ['a.example.com:443'] } });
    const effective = intersectManifests(parent, child).capabilities;
    expect(effective.file_write).toEqual(['/out/run-1/*']);
    expect(effective.network.allowlist).toEqual(['a.example.com:443']);
  });

  it('takes the smaller of each quota', () => {
    const parent = manifest({}, { cpu_ms_per_request: 500, memory_mb: 1024 });
    const child = manifest({}, { cpu_ms_per_request: 2000, memory_mb: 64 });
    const quotas = intersectManifests(parent, child).quotas;
    expect(quotas.cpu_ms_per_request).toBe(500);
    expect(quotas.memory_mb).toBe(64);
  });

  it('does not let an exact child entry for a metadata host slip under a parent wildcard', () => {
    const parent = manifest({ network: { allowlist: ['*.google.internal'] } });
    const child = manifest({ network: { allowlist: ['metadata.google.internal'] } });
    expect(intersectManifests(parent, child).capabilities.network.allowlist).toEqual([]);
  });
});

// Small alphabets so random manifests and random probes actually collide.
const globArb = fc
  .array(fc.constantFrom('a', 'b', 'c', '*', '**', 'a*'), { maxLength: 3 })
  .map((parts) => `/${parts.join('/')}`);
const pathArb = fc
  .array(fc.constantFrom('a', 'b', 'c', 'ab', '.x'), { maxLength: 4 })
  .map((p) => `/${p.join('/')}`);
const NAMES = [
  'example.com',
  'a.example.com',
  'b.a.example.com',
  'other.net',
  'localhost',
  'metadata.google.internal',
];
const hostArb = fc
  .tuple(
    fc.constantFrom(...NAMES, 'google.internal', 'a.localhost', '127.0.0.1', '169.254.169.254', '10.1.1.1'),
    fc.boolean(),
    fc.constantFrom(undefined, 80, 443),
  )
  .map(([host, wildcard, port]) => {
    const isIp = /^\d/.test(host);
    const text = wildcard && !isIp ? `*.${host}` : host;
    return port === undefined ? text : `${text}:${port}`;
  });
const denyArb = fc.constantFrom(
  '10.0.0.0/8',
  'a.example.com',
  '127.0.0.0/8',
  '*.other.net',
  '169.254.0.0/16',
);
const envArb = fc.constantFrom('HOME', 'APP_*', 'APP_X', 'A*', 'PATH');
const toolArb = fc.constantFrom('search', 'github.*', 'github.read', '*', 'shell', 'github.delete_*');
const quotaArb = fc.record({
  cpu_ms_per_request: fc.integer({ min: 1, max: 5000 }),
  memory_mb: fc.integer({ min: 1, max: 4096 }),
  network_requests_per_min: fc.integer({ min: 0, max: 500 }),
});
const manifestArb = fc
  .record({
    file_read: fc.array(globArb, { maxLength: 3 }),
    file_write: fc.array(globArb, { maxLength: 3 }),
    allowlist: fc.array(hostArb, { maxLength: 4 }),
    denylist: fc.array(denyArb, { maxLength: 2 }),
    env: fc.array(envArb, { maxLength: 3 }),
    allow: fc.array(toolArb, { maxLength: 3 }),
    deny: fc.array(toolArb, { maxLength: 2 }),
    quotas: quotaArb,
  })
  .map((r) =>
    manifest(
      {
        file_read: r.file_read,
        file_write: r.file_write,
        network: { allowlist: r.allowlist, denylist: r.denylist },
        env: r.env,
        tools: { allow: r.allow, deny: r.deny },
      },
      r.quotas,
    ),
  );
const probeArb = fc.record({
  path: pathArb,
  host: fc.constantFrom(
    ...NAMES,
    'x.example.com',
    'c.b.a.example.com',
    '10.1.1.1',
    'x.other.net',
    'a.localhost',
  ),
  port: fc.constantFrom(80, 443, 8080),
  env: fc.constantFrom('HOME', 'APP_X', 'APP_Y', 'AWS', 'PATH', 'A'),
  tool: fc.constantFrom('search', 'github.read', 'github.delete_x', 'shell', 'other'),
});

type Probe = typeof probeArb extends fc.Arbitrary<infer T> ? T : never;

/** Every permission `inner` grants for `probe` is also granted by `outer`. */
function withinFor(inner: Manifest, outer: Manifest, probe: Probe): string[] {
  const problems: string[] = [];
  const check = (what: string, innerAllows: boolean, outerAllows: boolean) => {
    if (innerAllows && !outerAllows) problems.push(what);
  };
  const files = (m: Manifest) => FilePolicy.from(m.capabilities);
  for (const access of ['read', 'write'] as const) {
    check(
      `${access} ${probe.path}`,
      files(inner).decide(probe.path, access).effect === 'allow',
      files(outer).decide(probe.path, access).effect === 'allow',
    );
  }
  const destination = { host: probe.host, port: probe.port };
  const net = (m: Manifest) =>
    NetworkPolicy.from(m.capabilities.network).decide(destination).effect === 'allow';
  check(`connect ${probe.host}:${probe.port}`, net(inner), net(outer));
  const env = (m: Manifest) => decideEnv(m.capabilities.env, probe.env).effect === 'allow';
  check(`env ${probe.env}`, env(inner), env(outer));
  const tool = (m: Manifest) => decideTool(m.capabilities.tools, probe.tool).effect === 'allow';
  check(`tool ${probe.tool}`, tool(inner), tool(outer));
  return problems;
}

describe('intersectManifests (property)', () => {
  it('never grants the child anything its parent or its own request lacks', () => {
    fc.assert(
      fc.property(
        manifestArb,
        manifestArb,
        fc.array(probeArb, { minLength: 5, maxLength: 5 }),
        (parent, child, probes) => {
          const effective = intersectManifests(parent, child);
          for (const probe of probes) {
            expect(withinFor(effective, parent, probe)).toEqual([]);
            expect(withinFor(effective, child, probe)).toEqual([]);
          }
          for (const key of Object.keys(effective.quotas) as (keyof Manifest['quotas'])[]) {
            if (key === 'allow_unenforced') continue;
            expect(effective.quotas[key]).toBeLessThanOrEqual(
              Math.min(parent.quotas[key], child.quotas[key]),
            );
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keeps what both sides grant identically', () => {
    fc.assert(
      fc.property(manifestArb, probeArb, (m, probe) => {
        const self = intersectManifests(m, m);
        expect(withinFor(m, self, probe)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
