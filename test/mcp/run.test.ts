import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { parseEnvelopeBytes } from '../../src/attest/receipt.js';
import { verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { KeyStore } from '../../src/identity/keystore.js';
import type { HttpBridge } from '../../src/mcp/http.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { scratchDir } from '../scratch-dirs.js';
import { PipeClientTransport, receiptIndex, SERVERS, testClient, text } from './helpers.js';

const QUIRKY = join(import.meta.dirname, 'fixtures', 'quirky-server.mjs');
const hardened = await new HardenedTier().availability();

async function home(): Promise<{ dir: string; airlockKey: Uint8Array }> {
  const dir = scratchDir('oacp-home-');
  const store = await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/run' });
  return { dir, airlockKey: store.airlockSigner().publicKey };
}

describe('runMcpCommand', () => {
  it('serves a server over stdio with receipts in the home log, and ends when the client goes', async () => {
    const { dir, airlockKey } = await home();
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const lines: string[] = [];
    const running = runMcpCommand(
      { command: [process.execPath, QUIRKY], tier: 'light', name: 'quirky', tools: ['echo'] },
      { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    const result = await client.callTool({ name: 'echo', arguments: { text: 'from run' } });
    expect(text(result)).toBe('from run');
    const meta = result._meta?.['oacp/receipt'] as { index: number; log: string };
    expect(meta.log).toBe('test.oacp.invalid/run');
    expect(meta).not.toHaveProperty('path');
    const denied = await client.callTool({ name: 'pid', arguments: {} });
    expect(denied.isError).toBe(true);
    await client.close();
    await running;
    // The log is closed now; reopen it through a fresh store to read what was written.
    const { OacpNode } = await import('../../src/node/oacp-node.js');
    const node = await OacpNode.open(dir, {});
    try {
      expect(node.log.size).toBe(2);
      const envelope = parseEnvelopeBytes(await node.log.entry(meta.index));
      const verified = verifyReceiptEnvelope(envelope, { airlockKeys: [airlockKey] });
      expect(verified.ok).toBe(true);
      expect(verified.statement?.predicate).toMatchObject({
        server: { name: 'quirky' },
        tool: { name: 'echo' },
      });
    } finally {
      await node.close();
    }
  });

  it('--learn lets refused calls through, says so in their receipts, and writes the manifest it saw', async () => {
    const { dir } = await home();
    const out = join(scratchDir('oacp-learn-'), 'quirky.learned.yaml');
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const running = runMcpCommand(
      {
        command: [process.execPath, QUIRKY],
        tier: 'light',
        name: 'quirky',
        tools: ['echo'],
        learn: true,
        learnOut: out,
      },
      { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: () => undefined },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    const pid = await client.callTool({ name: 'pid', arguments: {} });
    expect(pid.isError ?? false).toBe(false);
    await client.close();
    await running;
    const learned = parse(readFileSync(out, 'utf8')) as { capabilities: { tools: { allow: string[] } } };
    expect(learned.capabilities.tools.allow).toEqual(['echo', 'pid']);
    expect(readFileSync(out, 'utf8')).toContain('pid: tool "pid" is not in tools.allow');
  });

  it('refuses bad options before starting anything', async () => {
    const { dir } = await home();
    await expect(runMcpCommand({ command: [], tier: 'light' }, { home: dir, env: {} })).rejects.toThrow(
      /MCP_BAD_OPTIONS|exactly one of/,
    );
    await expect(
      runMcpCommand(
        { command: [process.execPath, QUIRKY], tier: 'light', policy: '/nonexistent.cedar' },
        { home: dir, env: {} },
      ),
    ).rejects.toMatchObject({ code: 'POLICY_READ' });
  });

  it.skipIf(!hardened.available)(
    'confines the filesystem server to the granted directory in the hardened tier, over Streamable HTTP',
    async () => {
      const { dir, airlockKey } = await home();
      const root = realpathSync(scratchDir('oacp-run-fs-'));
      mkdirSync(join(root, 'data'));
      writeFileSync(join(root, 'data', 'ok.txt'), 'granted content');
      writeFileSync(join(root, 'secret.txt'), 'not granted');
      // As root the sandbox runs as nobody: the granted tree must be readable by others.
      for (const path of [root, join(root, 'data')]) chmodSync(path, 0o755);
      for (const path of [join(root, 'data', 'ok.txt'), join(root, 'secret.txt')]) chmodSync(path, 0o644);
      const controller = new AbortController();
      let listening: (http: HttpBridge) => void = () => undefined;
      const ready = new Promise<HttpBridge>((resolve) => {
        listening = resolve;
      });
      const lines: string[] = [];
      // The operator's own client token (--http-token-file), 0600.
      const token = 'run-test-client-token-0123456789abcdefghij';
      writeFileSync(join(dir, 'client.token'), `${token}\n`, { mode: 0o600 });
      const headers = { authorization: `Bearer ${token}` };
      // The server itself is told it may serve all of `root`; only the Airlock grant narrows it to data/.
      const running = runMcpCommand(
        {
          command: [process.execPath, SERVERS.filesystem, root],
          tier: 'hardened',
          allowFiles: [`${root}/data:ro`],
          http: '127.0.0.1:0',
          httpTokenFile: join(dir, 'client.token'),
        },
        {
          home: dir,
          env: {},
          signal: controller.signal,
          log: (line) => lines.push(line),
          onListening: listening,
        },
      );
      const http = await Promise.race([
        ready,
        running.then(() => Promise.reject(new Error(lines.join('\n')))),
      ]);
      const client = testClient();
      try {
        await client.connect(new StreamableHTTPClientTransport(http.url, { requestInit: { headers } }));
        const granted = await client.callTool({
          name: 'read_text_file',
          arguments: { path: `${root}/data/ok.txt` },
        });
        expect(text(granted), lines.join('\n')).toBe('granted content');
        const outside = await client.callTool({
          name: 'read_text_file',
          arguments: { path: `${root}/secret.txt` },
        });
        expect(outside.isError).toBe(true);
        expect(text(outside)).not.toContain('not granted');
        expect(text(outside)).toMatch(/ENOENT|no such file/i);
        const index = receiptIndex(granted);
        expect(granted._meta?.['oacp/receipt']).toMatchObject({ path: `/oacp/receipts/${index}` });
        const fetched = await fetch(new URL(`/oacp/receipts/${index}`, http.url), { headers });
        expect(fetched.status).toBe(200);
        const verified = verifyReceiptEnvelope(
          parseEnvelopeBytes(new Uint8Array(await fetched.arrayBuffer())),
          {
            airlockKeys: [airlockKey],
          },
        );
        expect(verified.ok).toBe(true);
        expect(verified.statement?.predicate).toMatchObject({
          tier: 'hardened',
          server: { name: 'server-filesystem' },
        });
        const proof = await fetch(new URL(`/oacp/receipts/${index}/proof`, http.url), { headers });
        expect(await proof.text()).toMatch(/^c2sp\.org\/tlog-proof@v1\n/);
      } finally {
        await client.close();
        controller.abort();
        await running;
      }
    },
  );
});
