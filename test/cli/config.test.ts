import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { oacpJsonSchema } from '../../src/gateway/config/json-schema.js';
import { mcpServersFromFile } from '../../src/gateway/config/mcp-options.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { withLogState } from '../log-state.js';
import { PipeClientTransport, testClient, text } from '../mcp/helpers.js';
import { oacp, tempDir } from './harness.js';

const QUIRKY = join(import.meta.dirname, '..', 'mcp', 'fixtures', 'quirky-server.mjs');
const ROOT = join(import.meta.dirname, '..', '..');

describe('one oacp.yaml for the bridge and the gateway', () => {
  it('oacp mcp run --config reads the gateway schema (snake_case list), paths relative to the file', async () => {
    const home = tempDir('oacp-config-home-');
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/config' });
    const folder = tempDir('oacp-config-file-');
    mkdirSync(join(folder, 'policies'));
    // Relative to the file, not to the working directory: this policy forbids echo on "two".
    writeFileSync(
      join(folder, 'policies', 'two.cedar'),
      'permit(principal, action, resource);\nforbid(principal, action, resource == Tool::"echo");\n',
    );
    const file = join(folder, 'oacp.yaml');
    writeFileSync(
      file,
      [
        'mcp:',
        '  servers:',
        '    - name: one',
        `      command: ${JSON.stringify(process.execPath)}`,
        `      args: [${JSON.stringify(QUIRKY)}]`,
        '      tier: light',
        '      tools: [echo]',
        '    - name: two',
        `      command: ${JSON.stringify(process.execPath)}`,
        `      args: [${JSON.stringify(QUIRKY)}]`,
        '      tier: light',
        '      policy: policies/two.cedar',
        '',
      ].join('\n'),
    );
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const running = runMcpCommand(
      { config: file },
      {
        home,
        env: withLogState({}),
        servers: mcpServersFromFile(file),
        stdin: toBridge,
        stdout: fromBridge,
        log: () => undefined,
      },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('one__echo');
    expect(names).not.toContain('one__pid');
    expect(names).toContain('two__pid');
    expect(text(await client.callTool({ name: 'one__echo', arguments: { text: 'first' } }))).toBe('first');
    const refused = await client.callTool({ name: 'two__echo', arguments: { text: 'second' } });
    expect(refused.isError).toBe(true);
    await client.close();
    await running;
  });

  it('refuses allow_network naming loopback at check time, as --allow-network does', async () => {
    const folder = tempDir('oacp-config-loopback-');
    const file = join(folder, 'oacp.yaml');
    writeFileSync(
      file,
      [
        'mcp:',
        '  servers:',
        '    - name: db',
        '      command: node',
        '      allow_network: ["db.example.com", "127.0.0.1:5432"]',
        '',
      ].join('\n'),
    );
    const checked = await oacp(['config', 'check', file]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(
      `${file}:5: mcp.servers[0].allow_network[1]: 127.0.0.1 is a loopback or unspecified address, and loopback is the host's`,
    );
  });

  it('stops at a bad value with file, line and reason: a grant mode other than ro/rw, an unknown key, a "__" name', async () => {
    const folder = tempDir('oacp-config-bad-');
    const file = join(folder, 'oacp.yaml');
    writeFileSync(
      file,
      [
        'mcp:',
        '  servers:',
        '    - name: files',
        '      command: node',
        '      allow_files: ["/data:rx"]',
        '      alow_env: [HOME]',
        '    - name: a__b',
        '      command: node',
        '',
      ].join('\n'),
    );
    const checked = await oacp(['config', 'check', file]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(
      `${file}:5: mcp.servers[0].allow_files[0]: the grant mode ":rx" must be one of :ro or :rw`,
    );
    expect(checked.stderr).toContain(`${file}:6: mcp.servers[0].alow_env: unknown field "alow_env"`);
    expect(checked.stderr).toContain(`${file}:7: mcp.servers[1].name: must not contain "__"`);
    expect(checked.stderr.split('\n')).toHaveLength(1);
    // The bridge reads the same file the same way, before starting anything.
    expect(() => mcpServersFromFile(file)).toThrow(/oacp\.yaml:5: mcp\.servers\[0\]\.allow_files\[0\]/);
    const run = await oacp(['mcp', 'run', '--config', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(':6: mcp.servers[0].alow_env: unknown field');
  });

  it('one tool-naming rule: an old <server>.<tool> name or a dotted server name stops config check with the field and the new name', async () => {
    const folder = tempDir('oacp-config-names-');
    const file = join(folder, 'oacp.yaml');
    writeFileSync(
      file,
      [
        'sandbox:',
        '  capabilities:',
        '    tools:',
        '      allow: ["files.*", "echo"]',
        '      deny: ["files.write_file"]',
        'mcp:',
        '  servers:',
        '    - name: files',
        '      command: node',
        'quotas:',
        '  tools:',
        '    files.read_file: 10',
        '',
      ].join('\n'),
    );
    const checked = await oacp(['config', 'check', file]);
    expect(checked.code).toBe(1);
    const old = 'uses the old <server>.<tool> form: MCP tools are named <server>__<tool>, write';
    expect(checked.stderr).toContain(
      `${file}:4: sandbox.capabilities.tools.allow[0]: "files.*" ${old} "files__*"`,
    );
    expect(checked.stderr).toContain(
      `${file}:5: sandbox.capabilities.tools.deny[0]: "files.write_file" ${old} "files__write_file"`,
    );
    expect(checked.stderr).toContain(
      `quotas.tools.files.read_file: "files.read_file" ${old} "files__read_file"`,
    );
    // A native tool (no configured server of that name) keeps any name.
    expect(checked.stderr).not.toContain('"echo"');
    writeFileSync(file, ['mcp:', '  servers:', '    - name: my.files', '      command: node', ''].join('\n'));
    const dotted = await oacp(['config', 'check', file]);
    expect(dotted.code).toBe(1);
    expect(dotted.stderr).toContain(`${file}:3: mcp.servers[0].name: must not contain "."`);
    // The new form passes.
    writeFileSync(
      file,
      [
        'sandbox:',
        '  capabilities:',
        '    tools: { allow: ["files__*"], deny: ["files__write_file"] }',
        'mcp:',
        '  servers:',
        '    - name: files',
        '      command: node',
        'quotas:',
        '  tools: { files__read_file: 10 }',
        '',
      ].join('\n'),
    );
    const fine = await oacp(['config', 'check', file]);
    expect(fine.stderr).toBe('');
    expect(fine.code).toBe(0);
  });

  it('refuses --allow-files D:rx and D:rw:ro (oacp mcp run, oacp run) instead of granting the literal path', async () => {
    for (const suffix of [':rx', ':rw:ro']) {
      const mcp = await oacp([
        'mcp',
        'run',
        '--tier',
        'light',
        '--allow-files',
        `/data${suffix}`,
        '--',
        'true',
      ]);
      const run = await oacp(['run', '--tier', 'light', '--allow-files', `/data${suffix}`, '--', 'true']);
      // Both commands word the refusal alike and exit 2, as for any malformed flag.
      expect(mcp.code).toBe(2);
      expect(run.code).toBe(2);
      expect(mcp.stderr).toBe(run.stderr);
      expect(run.stderr).toBe(
        `oacp: --allow-files /data${suffix}: the grant mode "${suffix}" must be one of :ro or :rw (PATH, PATH:ro or PATH:rw)`,
      );
    }
  });

  it('a mistyped flag or command prints one line naming it and the nearest one, not the help', async () => {
    const flag = await oacp(['mcp', 'run', '--allow-file', '/x', '--', 'true']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("oacp: unknown option '--allow-file' (did you mean --allow-files?)");
    const command = await oacp(['mcp', 'rnu']);
    expect(command.stderr).toBe("oacp: unknown command 'rnu' (did you mean run?)");
  });

  it('accepts the shipped example and publishes the JSON Schema generated from the zod schema', async () => {
    const checked = await oacp(['config', 'check', join(ROOT, 'examples', 'oacp.yaml')]);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    const shipped = JSON.parse(readFileSync(join(ROOT, 'schema', 'oacp.schema.json'), 'utf8'));
    // Regenerate with: npm run schema
    expect(shipped).toEqual(oacpJsonSchema());
    expect(Object.keys(shipped.properties)).toEqual(
      expect.arrayContaining(['gateway', 'sandbox', 'mcp', 'policies', 'quotas']),
    );
  });

  it('models.prices.<model>.service_tiers: a multiplier per tier, the standard tier and a negative multiplier refused with the field', async () => {
    const folder = tempDir('oacp-config-tiers-');
    const file = join(folder, 'oacp.yaml');
    const config = (tiers: string) =>
      [
        'models:',
        '  prices:',
        '    gpt-test:',
        '      input_per_mtok: 1',
        '      output_per_mtok: 2',
        `      service_tiers: ${tiers}`,
        '',
      ].join('\n');
    writeFileSync(file, config('{ flex: 0.5, priority: 2 }'));
    expect((await oacp(['config', 'check', file])).code).toBe(0);
    writeFileSync(file, config('{ default: 2 }'));
    const standard = await oacp(['config', 'check', file]);
    expect(standard.code).toBe(1);
    expect(standard.stderr).toContain('models.prices.gpt-test.service_tiers');
    expect(standard.stderr).toContain('service_tiers.default: "default" is the standard tier');
    writeFileSync(file, config('{ flex: -1 }'));
    const negative = await oacp(['config', 'check', file]);
    expect(negative.code).toBe(1);
    expect(negative.stderr).toContain('models.prices.gpt-test.service_tiers.flex');
    expect(negative.stderr).not.toContain('    at ');
  });
});
