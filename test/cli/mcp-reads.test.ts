import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EmptyResultSchema, McpError, ReadResourceResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { oacp, oacpBinary, tempDir } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const resolveModule = createRequire(import.meta.url).resolve;
const EVERYTHING = resolveModule('@modelcontextprotocol/server-everything/dist/index.js');
/** A resources server that reads a uri the way Node code does, through fileURLToPath, from an in-memory tree. */
const FILE_SERVER = `
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { posix } from 'node:path';
const files = { '/srv/secret': 'TOP SECRET', '/srv/public': 'public' };
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  if (m.method === 'initialize') return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { resources: { subscribe: true } }, serverInfo: { name: 'files', version: '1' } } });
  if (m.method === 'resources/subscribe') return send({ jsonrpc: '2.0', id: m.id, result: {} });
  if (m.method !== 'resources/read') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no' } });
  let path;
  try { path = posix.normalize(fileURLToPath(m.params.uri)).replace(/(.)\\/$/, '$1'); } catch { path = ''; }
  const text = files[path];
  send(text === undefined
    ? { jsonrpc: '2.0', id: m.id, error: { code: -32002, message: 'no such resource' } }
    : { jsonrpc: '2.0', id: m.id, result: { contents: [{ uri: m.params.uri, text }] } });
});
`;
/** A resources server that reads whatever file:// path it is sent from the disk it sees. */
const DISK_SERVER = `
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  if (m.method === 'initialize') return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { resources: {} }, serverInfo: { name: 'disk', version: '1' } } });
  if (m.method !== 'resources/read') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no' } });
  try {
    const text = readFileSync(fileURLToPath(m.params.uri), 'utf8');
    send({ jsonrpc: '2.0', id: m.id, result: { contents: [{ uri: m.params.uri, text }] } });
  } catch (error) {
    send({ jsonrpc: '2.0', id: m.id, error: { code: -32002, message: 'cannot read ' + error.code } });
  }
});
`;
const MEMORY = resolveModule('@modelcontextprotocol/server-memory/dist/index.js');

interface Bridge {
  readonly client: Client;
  readonly home: string;
  readonly root: string;
}

/**
 * resources/read, resources/subscribe, prompts/get and completion/complete go
 * through the tool-call pipeline (issue 10): Cedar judges each as
 * `Action::"<method>"` on the resource or prompt it names, and each gets one
 * receipt, refusals included. Real `oacp mcp run`, the official SDK client,
 * server-everything (which has resources and prompts).
 */
describe('oacp mcp run: reads of resources and prompts are policed and receipted', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  });

  /** `oacp mcp run` of server-everything; `config` makes it a `--config` front instead, given the root. */
  const start = async (
    policy?: string,
    config?: (root: string) => string,
    flags: readonly string[] = [],
    server?: (root: string) => readonly string[],
  ): Promise<Bridge> => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const runArgs: string[] = [...flags];
    if (policy !== undefined) {
      const file = join(root, 'policy.cedar');
      writeFileSync(file, policy);
      runArgs.push('--policy', file);
    }
    if (config !== undefined) runArgs.push('--config', config(root));
    else if (server !== undefined) runArgs.push(...server(root));
    else runArgs.push('--', process.execPath, EVERYTHING, 'stdio');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--home', home, 'mcp', 'run', ...runArgs],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'reads-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return { client, home, root };
  };

  /** Exports receipt `index` and verifies it with `oacp verify`; returns its predicate. */
  const verify = async (bridge: Bridge, index: number): Promise<Record<string, unknown>> => {
    const out = join(bridge.root, `export-${index}`);
    expect((await oacp(['--home', bridge.home, 'log', 'export', String(index), '--out', out])).code).toBe(0);
    const keys = join(bridge.root, 'keys');
    await oacp(['--home', bridge.home, 'keys', 'export', '--out', keys]);
    const verified = oacpBinary([
      'verify',
      join(out, 'receipt.json'),
      '--proof',
      join(out, 'receipt.json.tlog-proof'),
      '--log-key',
      join(keys, 'log.vkey'),
      '--signer-key',
      join(keys, 'signer.pem'),
    ]);
    expect(verified.code, verified.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const envelope = JSON.parse(readFileSync(join(out, 'receipt.json'), 'utf8')) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: Record<string, unknown>;
    };
    return statement.predicate;
  };

  const receiptOf = (meta: unknown): number => {
    const ref = (meta as Record<string, { index?: unknown }> | undefined)?.['oacp/receipt'];
    if (typeof ref?.index !== 'number') throw new Error(`no receipt in ${JSON.stringify(meta)}`);
    return ref.index;
  };

  it('without a policy file, reads, prompts and completions work as before, each with a verifiable receipt', async () => {
    const bridge = await start();
    const { resources } = await bridge.client.listResources();
    const first = resources[0];
    if (first === undefined) throw new Error('server-everything listed no resources');
    const read = await bridge.client.readResource({ uri: first.uri });
    expect(read.contents[0]?.uri).toBe(first.uri);
    const predicate = await verify(bridge, receiptOf(read._meta));
    expect(predicate).toMatchObject({
      tool: { name: `resources/read:${first.uri}` },
      policy: { effect: 'allow', policyId: 'oacp-default-reads' },
    });

    const prompt = await bridge.client.getPrompt({ name: 'simple-prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
    receiptOf(prompt._meta);
    const completion = await bridge.client.complete({
      ref: { type: 'ref/prompt', name: 'completable-prompt' },
      argument: { name: 'department', value: 'Eng' },
    });
    expect(completion.completion.values).toContain('Engineering');
    receiptOf(completion._meta);
  }, 60_000);

  it('attack: a forbid on one resource uri refuses its read, with a receipt that verifies; other reads still work', async () => {
    const probe = await start();
    const { resources } = await probe.client.listResources();
    const [secret, other] = resources;
    if (secret === undefined || other === undefined)
      throw new Error('server-everything listed too few resources');
    await probe.client.close();

    const bridge = await start(`@id("tools")
permit(principal, action == Action::"tools/call", resource);
@id("reads")
permit(principal, action in [Action::"resources/read", Action::"prompts/get"], resource);
@id("no-secret")
forbid(principal, action == Action::"resources/read", resource == Resource::${JSON.stringify(secret.uri)});
@id("no-simple-prompt")
forbid(principal, action == Action::"prompts/get", resource == Prompt::"simple-prompt");
`);
    const refused = await bridge.client.readResource({ uri: secret.uri }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(McpError);
    const error = refused as McpError;
    expect(error.message).toMatch(/OACP refused resources\/read: forbidden by policy no-secret/);
    const predicate = await verify(bridge, receiptOf(error.data));
    expect(predicate).toMatchObject({
      tool: { name: `resources/read:${secret.uri}` },
      policy: { effect: 'deny', policyId: 'no-secret' },
    });

    expect((await bridge.client.readResource({ uri: other.uri })).contents[0]?.uri).toBe(other.uri);
    await expect(bridge.client.getPrompt({ name: 'simple-prompt' })).rejects.toThrow(
      /forbidden by policy no-simple-prompt/,
    );
    // Deny by default: this policy file permits no completion/complete.
    await expect(
      bridge.client.complete({
        ref: { type: 'ref/prompt', name: 'completable-prompt' },
        argument: { name: 'department', value: 'Eng' },
      }),
    ).rejects.toThrow(/no policy permits Agent .* to completion\/complete Prompt::"completable-prompt"/);
  }, 60_000);

  it('attack: a permitted resources/read of a file:// uri outside the grants reads nothing: the Airlock hides the file from a server that reads any path it is sent; the read is recorded', async () => {
    const bridge = await start(undefined, undefined, [], (root) => {
      mkdirSync(join(root, 'granted'));
      mkdirSync(join(root, 'outside'));
      writeFileSync(join(root, 'granted', 'note'), 'granted note');
      writeFileSync(join(root, 'outside', 'secret'), 'HOST SECRET');
      const script = join(root, 'disk-server.mjs');
      writeFileSync(script, DISK_SERVER);
      return ['--allow-files', join(root, 'granted'), '--', process.execPath, script];
    });
    const granted = await bridge.client.readResource({
      uri: `file://${join(bridge.root, 'granted', 'note')}`,
    });
    expect(granted.contents[0]).toMatchObject({ text: 'granted note' });
    for (const path of [join(bridge.root, 'outside', 'secret'), '/etc/shadow', join(bridge.home, 'keys')]) {
      const refused = await bridge.client.readResource({ uri: `file://${path}` }).then(
        (result) => JSON.stringify(result),
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(McpError);
      expect((refused as McpError).message).toMatch(/cannot read .*(ENOENT|EACCES)/);
      expect(String((refused as McpError).message)).not.toContain('HOST SECRET');
      const predicate = await verify(bridge, receiptOf((refused as McpError).data));
      expect(predicate).toMatchObject({
        tool: { name: `resources/read:file://${path}` },
        policy: { effect: 'allow' },
        outcome: 'error',
      });
    }
  }, 60_000);

  it('attack: another spelling of a forbidden file uri (escape, dot segment, localhost, fragment, query, slashes) is refused by the forbid, judged as a URL parser reads it; the server, which reads uris that way, is never asked; other spellings of permitted uris still pass untouched', async () => {
    // A server that reads a file uri as Node does (fileURLToPath): every spelling below reads /srv/secret.
    const server = (root: string): readonly string[] => {
      const dir = join(root, 'server');
      mkdirSync(dir);
      const file = join(dir, 'files.mjs');
      writeFileSync(file, FILE_SERVER);
      return ['--allow-files', `${dir}:ro`, '--', process.execPath, file];
    };
    const bridge = await start(
      `@id("reads")
permit(principal, action in [Action::"resources/read", Action::"resources/subscribe"], resource);
@id("no-secret")
forbid(principal, action in [Action::"resources/read", Action::"resources/subscribe"], resource == Resource::"file:///srv/secret");
`,
      undefined,
      [],
      server,
    );
    const read = (uri: string) =>
      bridge.client.request({ method: 'resources/read', params: { uri } }, ReadResourceResultSchema);
    expect((await read('file:///srv/public')).contents[0]).toMatchObject({ text: 'public' });
    // Servers list uris that are not canonical: a spelling of a permitted uri is forwarded as sent.
    expect((await read('file:///srv/%70ublic')).contents[0]).toMatchObject({ text: 'public' });
    expect((await read('file:///srv/x/../public')).contents[0]).toMatchObject({ text: 'public' });
    await expect(read('file:///srv/secret')).rejects.toThrow(/forbidden by policy no-secret/);
    for (const spelling of [
      'file:///srv/%73ecret',
      'file:///srv/./secret',
      'file:///srv/x/../secret',
      'file://localhost/srv/secret',
      'FILE:///srv/secret',
      'file:///srv//secret',
      'file:////srv/secret',
      'file:///srv/secret/',
      'file:///srv/secret#x',
      'file:///srv/secret?x=1',
      'file:///srv\\secret',
    ]) {
      const refused = await read(spelling).then(
        (result) => JSON.stringify(result),
        (error: unknown) => error,
      );
      expect(refused, spelling).toBeInstanceOf(McpError);
      expect((refused as McpError).message, spelling).toContain('forbidden by policy no-secret');
      expect((refused as McpError).message, spelling).toContain(
        'the uri judged as a URL parser reads it: file:///srv/secret',
      );
      expect(await verify(bridge, receiptOf((refused as McpError).data))).toMatchObject({
        tool: { name: `resources/read:${spelling}` },
        policy: { effect: 'deny' },
      });
    }
    await expect(
      bridge.client.request(
        { method: 'resources/subscribe', params: { uri: 'file:///srv/%73ecret' } },
        EmptyResultSchema,
      ),
    ).rejects.toThrow(/forbidden by policy no-secret .*file:\/\/\/srv\/secret/);
  }, 90_000);

  it("attack: on the --config front, a forbid on a resource holds through the server's bridge, and a read routed to no server is refused, each with a verifying receipt", async () => {
    const bridge = await start(undefined, (root) => {
      writeFileSync(
        join(root, 'a.cedar'),
        'permit(principal, action, resource);\n@id("no-first")\nforbid(principal, action == Action::"resources/read", resource == Resource::"demo://resource/static/document/architecture.md");\n',
      );
      const file = join(root, 'oacp.yaml');
      writeFileSync(
        file,
        [
          'mcp:',
          '  servers:',
          '    - name: a',
          `      command: ${JSON.stringify(process.execPath)}`,
          `      args: [${JSON.stringify(EVERYTHING)}, stdio]`,
          '      tier: light',
          '      policy: a.cedar',
          '    - name: b',
          `      command: ${JSON.stringify(process.execPath)}`,
          `      args: [${JSON.stringify(MEMORY)}]`,
          '      tier: light',
          '',
        ].join('\n'),
      );
      return file;
    });
    const { resources } = await bridge.client.listResources();
    const uris = resources.map((resource) => resource.uri);
    expect(uris).toContain('demo://resource/static/document/architecture.md');
    const refused = await bridge.client
      .readResource({ uri: 'demo://resource/static/document/architecture.md' })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).message).toMatch(
      /OACP refused resources\/read: forbidden by policy no-first/,
    );
    expect(await verify(bridge, receiptOf((refused as McpError).data))).toMatchObject({
      server: { name: 'a' },
      policy: { effect: 'deny', policyId: 'no-first' },
    });
    const other = uris.find((uri) => uri !== 'demo://resource/static/document/architecture.md');
    if (other === undefined) throw new Error('server-everything listed one resource only');
    expect((await bridge.client.readResource({ uri: other })).contents[0]?.uri).toBe(other);

    const unrouted = await bridge.client.getPrompt({ name: 'nosuch__prompt' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(unrouted).toBeInstanceOf(McpError);
    expect((unrouted as McpError).message).toMatch(/OACP refused prompts\/get: .*names no configured server/);
    expect(await verify(bridge, receiptOf((unrouted as McpError).data))).toMatchObject({
      tool: { name: 'prompts/get:nosuch__prompt' },
      policy: { effect: 'deny' },
    });
  }, 60_000);

  it('attack: reads of a malformed shape are refused before the server, recorded; reads take from the call quota', async () => {
    const bridge = await start(undefined, undefined, ['--quota-calls', '3/min']);
    const refusal = async (params: Record<string, unknown>) => {
      const error = await bridge.client
        .request({ method: 'resources/read', params }, ReadResourceResultSchema)
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(McpError);
      receiptOf((error as McpError).data);
      return (error as McpError).message;
    };
    expect(await refusal({})).toMatch(/resources\/read "uri" must be a non-empty string/);
    expect(await refusal({ uri: 'x'.repeat(5000) })).toMatch(
      /"uri" is 5000 characters, more than the 4096 allowed/,
    );
    // Refused reads took no quota: three reads pass, the fourth is over 3/min.
    const { resources } = await bridge.client.listResources();
    const uri = resources[0]?.uri;
    if (uri === undefined) throw new Error('server-everything listed no resources');
    for (let i = 0; i < 3; i++) await bridge.client.readResource({ uri });
    expect(await refusal({ uri })).toMatch(/call quota exceeded: 3 calls per minute/);
  }, 60_000);

  it('attack: a second call in flight under the same progressToken is refused with a receipt; the first keeps its progress', async () => {
    const bridge = await start();
    // The SDK client keeps progress handlers by its own tokens only; it reports progress under
    // another token (ours) as an error naming the token, which is how the test sees it arrive.
    const progress: string[] = [];
    bridge.client.onerror = (error) => {
      if (error.message.includes('shared-token')) progress.push(error.message);
    };
    const call = (duration: number) =>
      bridge.client.callTool({
        name: 'trigger-long-running-operation',
        arguments: { duration, steps: 4 },
        _meta: { progressToken: 'shared-token' },
      });
    // Long enough that a loaded host still has it in flight after its first progress (at 1 s).
    const first = call(4);
    // In flight by the server's own word, not by a guess at how long the bridge takes to forward it.
    await expect.poll(() => progress.length).toBeGreaterThan(0);
    const second = await call(0.1);
    expect(second.isError).toBe(true);
    expect(JSON.stringify(second.content)).toMatch(
      /progressToken \S*shared-token\S* is already used by a request in flight/,
    );
    receiptOf(second._meta);
    const done = await first;
    expect(done.isError).not.toBe(true);
    // Every step's progress reached the client, the ones after the refusal too.
    expect(progress).toHaveLength(4);
    // Answered, the first call frees its token.
    expect((await call(0.1)).isError).not.toBe(true);
  }, 60_000);
});
