import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentQuotaDefaults,
  gatewayQuotaOptionsFrom,
  loadGatewayConfig,
  mcpRunOptionsFor,
  parseGatewayConfig,
} from '../../../src/gateway/config/index.js';
import type { McpServerConfig } from '../../../src/gateway/config/mcp-section.js';
import { manifestFromOptions } from '../../../src/mcp/manifest-from-options.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'oacp.yaml');
const dir = mkdtempSync(join(tmpdir(), 'oacp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refusal(document: unknown): string {
  try {
    parseGatewayConfig(document, '/etc/oacp');
  } catch (error) {
    expect(error).toMatchObject({ code: 'GATEWAY_CONFIG_INVALID' });
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('oacp.yaml', () => {
  it('parses the shipped example, resolving relative paths against its folder', () => {
    const config = loadGatewayConfig(EXAMPLE);
    const base = join(import.meta.dirname, '..', '..', '..', 'examples');
    expect(config.gateway.listen).toBe('127.0.0.1:8443');
    // As shipped it starts on a fresh clone: no TLS files to make, no signing key to own, no network.
    expect(config.gateway.tls).toBeUndefined();
    expect(config.gateway.require_signed_manifests).toBe(false);
    expect(config.sandbox.capabilities.env).toEqual(['USER', 'HOME', 'OACP_*']);
    expect(config.sandbox.capabilities.tools).toEqual({ allow: ['files__*'], deny: ['files__write_file'] });
    expect(config.mcp.servers.map((s) => s.name)).toEqual(['files']);
    expect(config.policies).toEqual([join(base, 'policies/base.cedar')]);
    expect(config.a2a.trust).toEqual([{ from: 'planner', to: 'researcher' }]);
    expect(config.quotas.api_calls_per_hour).toBe(1000);
    expect(config.quotas.tools).toEqual({ files__write_file: 10 });
    expect(gatewayQuotaOptionsFrom(config.quotas)).toEqual({
      tools: { files__write_file: 10 },
      apiKeyCallsPerMinute: 120,
      llmTokenBudget: 2_000_000,
    });
  });

  it('reads the gateway-wide limits under quotas and keeps them out of the agent defaults', () => {
    const config = parseGatewayConfig({ quotas: { burst: 3, tools: { echo: 2 } } }, '/etc/oacp');
    expect(gatewayQuotaOptionsFrom(config.quotas)).toEqual({ tools: { echo: 2 } });
    const defaults = agentQuotaDefaults(config.quotas);
    expect(defaults.burst).toBe(3);
    expect(Object.keys(defaults)).not.toContain('tools');
    expect(gatewayQuotaOptionsFrom(parseGatewayConfig({}, '/etc/oacp').quotas)).toEqual({});
  });

  it('refuses a bad gateway-wide limit, naming its key', () => {
    expect(refusal({ quotas: { tools: { echo: 0 } } })).toMatch(
      /quotas\.tools\.echo: expected a positive integer/,
    );
    expect(refusal({ quotas: { tools: { echo: '5/min' } } })).toContain('quotas.tools.echo');
    expect(refusal({ quotas: { tools: ['echo'] } })).toContain('quotas.tools');
    expect(refusal({ quotas: { api_key_calls_per_min: -1 } })).toContain('quotas.api_key_calls_per_min');
    expect(refusal({ quotas: { llm_token_budget: 1.5 } })).toContain('quotas.llm_token_budget');
    expect(refusal({ quotas: { tool: { echo: 1 } } })).toContain('quotas: unknown field "tool"');
    expect(refusal({ quotas: { tools: { ' bad name': 1 } } })).toMatch(/quotas\.tools.*tool names are/);
  });

  it('fills defaults only for absent keys (an empty file is a deny-by-default gateway)', () => {
    const config = parseGatewayConfig(null, '/etc/oacp');
    expect(config.gateway).toEqual({
      listen: '127.0.0.1:8080',
      require_signed_manifests: false,
      manifest_keys: [],
      max_body_bytes: 1024 * 1024,
      max_unread_answer_bytes: 64 * 1024 * 1024,
    });
    expect(config.sandbox.default_type).toBe('standard');
    expect(config.sandbox.wasm).toEqual({ runtime: 'quickjs', memory_limit_mb: 512, cpu_quota_ms: 1000 });
    expect(config.sandbox.capabilities.file_read).toEqual([]);
    expect(config.sandbox.capabilities.network.allowlist).toEqual([]);
    expect(config.attestation).toEqual({ level: 'basic', retention_days: 90 });
    expect(config.mcp.servers).toEqual([]);
  });

  it.each([
    [
      { sandbox: { wasm: { memory_limit_mb: -5 } } },
      'sandbox.wasm.memory_limit_mb: expected a positive integer',
    ],
    [
      { sandbox: { wasm: { memory_limit_mb: '512' } } },
      'sandbox.wasm.memory_limit_mb: expected a positive integer',
    ],
    [{ sandbox: { wasm: { cpu_quota_ms: 1.5 } } }, 'sandbox.wasm.cpu_quota_ms: expected a positive integer'],
    [{ sandbox: { wasm: { runtime: 'wasmtime' } } }, 'sandbox.wasm.runtime: only "quickjs" is available'],
    [
      { sandbox: { default_type: 'docker' } },
      'sandbox.default_type: expected one of light, standard, hardened',
    ],
    [{ sandbox: { tee: { enabled: true } } }, 'sandbox.tee.provider: required when tee.enabled is true'],
    [{ sandbox: { tee: { enabled: 'yes' } } }, 'sandbox.tee.enabled: expected true or false'],
    [{ sandbox: { tee: { provider: 'intel' } } }, 'sandbox.tee.provider: expected one of intel_sgx'],
    [{ sandbox: { capabilities: { file_read: ['relative/path'] } } }, 'sandbox.capabilities.file_read[0]:'],
    [
      { sandbox: { capabilities: { network: { allowlist: ['http://x'] } } } },
      'sandbox.capabilities.network.allowlist[0]:',
    ],
    [{ sandbox: { wasm: { memory_limit: 5 } } }, 'sandbox.wasm: unknown field "memory_limit"'],
    [{ sandboxes: {} }, '(top level): unknown field "sandboxes"'],
    [{ attestation: { level: 'total' } }, 'attestation.level: expected one of basic, standard, full'],
    [{ attestation: { registry: 'ftp://x' } }, 'attestation.registry: expected an http:// or https:// URL'],
    [{ attestation: { retention_days: 0 } }, 'attestation.retention_days: expected a positive integer'],
    [{ gateway: { listen: 'localhost' } }, 'gateway.listen: expected HOST:PORT'],
    [{ gateway: { listen: '0.0.0.0:70000' } }, 'gateway.listen: port must be at most 65535'],
    [{ gateway: { tls: { cert: 'a.crt' } } }, 'gateway.tls.key:'],
    [
      { gateway: { require_signed_manifests: true } },
      'gateway.manifest_keys: require_signed_manifests is on',
    ],
    [{ gateway: { manifest_keys: ['did:web:x'] } }, 'gateway.manifest_keys[0]: expected a did:key'],
    [{ otel: { endpoint: 'not a url' } }, 'otel.endpoint: expected an http:// or https:// URL'],
    [{ policies: 'base.cedar' }, 'policies: expected a list of paths'],
    [{ quotas: { api_calls_per_hour: -1 } }, 'quotas.api_calls_per_hour:'],
    [{ a2a: { trust: [{ from: 'a' }] } }, 'a2a.trust[0].to:'],
    [{ mcp: { servers: [{ name: 'x' }] } }, 'mcp.servers[0].command: give exactly one of command or url'],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', url: 'https://h/mcp' }] } },
      'mcp.servers[0].command: give exactly one of command or url',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', quota_memory: 'lots' }] } },
      'mcp.servers[0].quota_memory: expected a size such as 256mb',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', quota_memory: 0 }] } },
      'mcp.servers[0].quota_memory: expected a size such as 256mb',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', quota_tmp: '0mb' }] } },
      'mcp.servers[0].quota_tmp: expected a size such as 256mb',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', quota_cpu: '0s' }] } },
      'mcp.servers[0].quota_cpu: expected a duration such as 500ms',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', allow_files: ['/data:rx'] }] } },
      'mcp.servers[0].allow_files[0]: the grant mode ":rx" must be one of :ro or :rw',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', allow_files: ['data:rw:ro'] }] } },
      'mcp.servers[0].allow_files[0]: the grant mode ":rw:ro" must be one of :ro or :rw',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', tier: 'vm' }] } },
      'mcp.servers[0].tier: expected one of light',
    ],
    [
      {
        mcp: {
          servers: [
            { name: 'x', command: 'a' },
            { name: 'x', command: 'b' },
          ],
        },
      },
      'mcp.servers[1].name: duplicate server name "x"',
    ],
    [
      { mcp: { servers: [{ name: 'x', command: 'a', attest_level: 'standard' }] } },
      'mcp.servers[0].agent: attest_level standard needs agent',
    ],
  ])('refuses %j naming the key', (document, message) => {
    expect(refusal(document)).toContain(message);
  });

  it('reads MCP tool attributes per server and refuses a bad one, naming its key', () => {
    const server = { name: 'files', command: 'npx' };
    const config = parseGatewayConfig(
      { mcp: { servers: [{ ...server, tool_attributes: { write_file: { access: 'write', level: 2 } } }] } },
      '/etc/oacp',
    );
    expect(config.mcp.servers[0]?.tool_attributes).toEqual({ write_file: { access: 'write', level: 2 } });
    expect(
      parseGatewayConfig({ mcp: { servers: [server] } }, '/etc/oacp').mcp.servers[0]?.tool_attributes,
    ).toEqual({});
    expect(
      refusal({ mcp: { servers: [{ ...server, tool_attributes: { write_file: { access: ['w'] } } }] } }),
    ).toContain(
      'mcp.servers[0].tool_attributes.write_file.access: expected a string, a number or true/false',
    );
    expect(
      refusal({ mcp: { servers: [{ ...server, tool_attributes: { write_file: 'write' } }] } }),
    ).toContain('mcp.servers[0].tool_attributes.write_file: expected a mapping of attribute name to value');
    expect(
      refusal({ mcp: { servers: [{ ...server, tool_attributes: { write_file: { 'bad-name': 1 } } }] } }),
    ).toContain('mcp.servers[0].tool_attributes.write_file.bad-name: attribute names are');
  });

  it('reports every problem, not only the first', () => {
    const message = refusal({
      sandbox: { wasm: { memory_limit_mb: 0 } },
      attestation: { retention_days: 'x' },
    });
    expect(message).toContain('sandbox.wasm.memory_limit_mb');
    expect(message).toContain('attestation.retention_days');
  });

  it('refuses unreadable files, bad YAML and keys given twice', () => {
    expect(() => loadGatewayConfig(join(dir, 'missing.yaml'))).toThrow(
      expect.objectContaining({ code: 'GATEWAY_CONFIG_UNREADABLE' }),
    );
    expect(() => loadGatewayConfig(write('bad.yaml', 'gateway: [unclosed\n'))).toThrow(/not valid YAML/);
    expect(() =>
      loadGatewayConfig(write('twice.yaml', 'gateway:\n  listen: "127.0.0.1:1"\n  listen: "0.0.0.0:2"\n')),
    ).toThrow(/not valid YAML/);
  });

  it('attack: a YAML alias bomb is GATEWAY_CONFIG_INVALID naming the file, not a bare library message', () => {
    const levels = 'abcdefghi'.split('');
    const lines = levels.map((name, i) =>
      i === 0
        ? `${name}: &${name} ["x","x","x","x","x","x","x","x","x"]`
        : `${name}: &${name} [${Array(9)
            .fill(`*${levels[i - 1]}`)
            .join(',')}]`,
    );
    const path = write('bomb.yaml', `${lines.join('\n')}\n`);
    expect(() => loadGatewayConfig(path)).toThrow(
      expect.objectContaining({
        code: 'GATEWAY_CONFIG_INVALID',
        message: `${path}: not valid YAML: Excessive alias count indicates a resource exhaustion attack`,
      }),
    );
  });

  it('keeps a postgres URL as given and resolves a relative SQLite path', () => {
    const pgConfig = loadGatewayConfig(write('pg.yaml', 'gateway:\n  store: postgres://u:p@db/oacp\n'));
    expect(pgConfig.gateway.store).toBe('postgres://u:p@db/oacp');
    const sqlite = loadGatewayConfig(write('sqlite.yaml', 'gateway:\n  store: state/gw.db\n'));
    expect(sqlite.gateway.store).toBe(join(dir, 'state/gw.db'));
  });

  it('turns an mcp.servers entry into the same options as `oacp mcp run` flags, local paths next to the file', () => {
    const config = loadGatewayConfig(EXAMPLE);
    const base = join(import.meta.dirname, '..', '..', '..', 'examples');
    const [files] = config.mcp.servers;
    if (files === undefined) throw new Error('example server missing');
    const options = mcpRunOptionsFor(files);
    expect(options.command).toEqual([
      'node',
      join(base, '../node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'),
      join(base, 'data'),
    ]);
    expect(options.tier).toBe('hardened');
    expect(options.allowFiles).toEqual([{ path: join(base, 'data'), writable: false }]);
    expect(options.quotaMemory).toBe(256);
    expect(options.quotaCalls).toBe(60);
    expect(options.requireApproval).toEqual(['write_file']);
    const remote = mcpRunOptionsFor(
      parseGatewayConfig({ mcp: { servers: [{ name: 'search', url: 'https://mcp.example.com/mcp' }] } }, base)
        .mcp.servers[0] as (typeof config.mcp.servers)[0],
    );
    expect(remote.upstream).toBe('https://mcp.example.com/mcp');
    expect(remote.command).toEqual([]);
  });

  it('allow_unix_sockets is the YAML twin of --allow-unix-sockets, hardened tier only, refused naming the key otherwise', () => {
    const parse = (extra: Record<string, unknown>) =>
      parseGatewayConfig({ mcp: { servers: [{ name: 'browser', command: 'npx', ...extra }] } }, '/etc/oacp')
        .mcp.servers[0] as McpServerConfig;
    const opted = mcpRunOptionsFor(parse({ allow_unix_sockets: true }));
    expect(opted.allowUnixSockets).toBe(true);
    expect(manifestFromOptions(opted, 'browser').capabilities.unix_sockets).toBe(true);
    // Absent is false: the sandbox's socket(AF_UNIX) stays EPERM.
    const plain = mcpRunOptionsFor(parse({}));
    expect(plain.allowUnixSockets).toBe(false);
    expect(manifestFromOptions(plain, 'browser').capabilities.unix_sockets).toBeUndefined();
    for (const tier of ['standard', 'gvisor']) {
      expect(
        refusal({ mcp: { servers: [{ name: 'browser', command: 'npx', tier, allow_unix_sockets: true }] } }),
      ).toContain(
        `mcp.servers[0].allow_unix_sockets: applies to the hardened tier only (this server's tier is ${tier})`,
      );
    }
    expect(
      refusal({ mcp: { servers: [{ name: 'b', command: 'npx', allow_unix_sockets: 'yes' }] } }),
    ).toContain('mcp.servers[0].allow_unix_sockets: expected true or false');
  });

  it("quota_tmp is the YAML twin of --quota-tmp: it sizes the server's /tmp (quotas.tmp_mb), absent keeps the default", () => {
    const parse = (extra: Record<string, unknown>) =>
      parseGatewayConfig({ mcp: { servers: [{ name: 'cache', command: 'npx', ...extra }] } }, '/etc/oacp').mcp
        .servers[0] as McpServerConfig;
    const raised = mcpRunOptionsFor(parse({ quota_tmp: '1g' }));
    expect(raised.quotaTmp).toBe(1024);
    expect(manifestFromOptions(raised, 'cache').quotas.tmp_mb).toBe(1024);
    expect(manifestFromOptions(mcpRunOptionsFor(parse({})), 'cache').quotas.tmp_mb).toBe(64);
  });

  it('attack: require_approval on a light-tier server (which could approve its own calls) is refused naming tier', () => {
    const config = {
      mcp: { servers: [{ name: 'mem', command: 'node', tier: 'light', require_approval: ['write'] }] },
    };
    expect(refusal(config)).toContain('mcp.servers[0].tier: the light tier runs servers as you');
    expect(refusal(config)).toContain('runs in tier hardened (the default) or gvisor');
    const hardened = { mcp: { servers: [{ name: 'mem', command: 'node', require_approval: ['write'] }] } };
    expect(parseGatewayConfig(hardened, '/etc/oacp').mcp.servers[0]?.tier).toBe('hardened');
  });

  it('refuses a capability ceiling without tools rather than silently giving agents none', () => {
    expect(refusal({ sandbox: { capabilities: { file_read: ['/data/**'] } } })).toContain(
      'sandbox.capabilities.tools: required in a capability ceiling',
    );
    const open = parseGatewayConfig({ sandbox: { capabilities: { tools: { allow: ['*'] } } } }, '/etc/oacp');
    expect(open.sandbox.capabilities.tools).toEqual({ allow: ['*'], deny: [] });
  });

  it('names the field of a TLS, policy or manifest file that does not exist, with its line', () => {
    const path = write(
      'tls.yaml',
      'gateway:\n  tls:\n    cert: ./nope.crt\n    key: ./nope.key\npolicies:\n  - ./missing.cedar\n',
    );
    const message = (() => {
      try {
        loadGatewayConfig(path);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    })();
    expect(message).toContain(`${path}:3: gateway.tls.cert: no such file ${join(dir, 'nope.crt')}`);
    expect(message).toContain(`${path}:4: gateway.tls.key: no such file`);
    expect(message).toContain(`${path}:6: policies[0]: no such file ${join(dir, 'missing.cedar')}`);
  });
});
