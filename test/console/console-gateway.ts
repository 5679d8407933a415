import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MANIFEST, startGateway, type TestGateway } from '../gateway/service/harness.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const MEMORY_SERVER = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
/** The tools the console tests' agents may call. */
export const CONSOLE_MANIFEST = {
  ...MANIFEST,
  capabilities: { tools: { allow: ['memory__*', 'echo', 'add'] } },
};

export interface ConsoleGateway {
  readonly gw: TestGateway;
  /** A scratch folder (the memory server's file), removed by close(). */
  readonly dir: string;
  close(): Promise<void>;
}

/**
 * The gateway every console test runs against: the test tools plus the
 * reference memory MCP server bridged in the hardened tier (a server whose calls
 * wait for approval never runs in the light tier: it could approve them itself),
 * its memory file in the test's folder, with `require_approval` on the tools
 * named, and the arguments a person may see.
 */
export async function startConsoleGateway(options: {
  readonly requireApproval: readonly string[];
  readonly approvalTimeout: string;
  readonly showArguments?: readonly string[];
  readonly prefix: string;
}): Promise<ConsoleGateway> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const policy = join(dir, 'policy.cedar');
  writeFileSync(policy, '@id("memory-all") permit(principal, action == Action::"tools/call", resource);');
  try {
    const gw = await startGateway({
      config: {
        mcp: {
          servers: [
            {
              name: 'memory',
              command: process.execPath,
              args: [MEMORY_SERVER],
              tier: 'hardened',
              policy,
              allow_env: ['MEMORY_FILE_PATH'],
              allow_files: [`${dir}:rw`],
              require_approval: [...options.requireApproval],
              approval_timeout: options.approvalTimeout,
              approval_show_arguments: [...(options.showArguments ?? [])],
            },
          ],
        },
      },
      env: { OACP_MASTER_KEY: '11'.repeat(32), MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
    });
    return {
      gw,
      dir,
      close: async () => {
        await gw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export const BIN = join(ROOT, 'dist', 'cli', 'main.js');

export interface StandaloneBridge {
  readonly client: Client;
  /** What the bridge wrote on stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * A real standalone bridge (`oacp mcp run`, a separate process from dist/) on
 * the gateway's home, serving the memory server over stdio in the hardened tier. It runs in a new
 * session (setsid), so it has no controlling terminal to ask on: its
 * approvals can only be decided from the home's spool, i.e. the console.
 */
export async function startBridge(
  home: string,
  flags: readonly string[],
  env: Record<string, string> = {},
): Promise<StandaloneBridge> {
  const transport = new StdioClientTransport({
    command: '/usr/bin/setsid',
    args: [
      process.execPath,
      BIN,
      '--home',
      home,
      'mcp',
      'run',
      '--tier',
      'hardened',
      // The memory file the test names (in its folder), the only place the server writes.
      ...(env.MEMORY_FILE_PATH === undefined ? [] : ['--allow-files', `${dirname(env.MEMORY_FILE_PATH)}:rw`]),
      ...flags,
      '--',
      process.execPath,
      MEMORY_SERVER,
    ],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, OACP_MASTER_KEY: '11'.repeat(32), ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'console-bridge-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

/** Reads server-sent events from the stream until `count` receipts came or `ms` passed. */
export async function readStream(
  url: URL,
  key: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; events: { id: string; tool?: string }[]; stop(): void; done: Promise<void> }> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...headers },
    signal: abort.signal,
  });
  const events: { id: string; tool?: string }[] = [];
  const done = (async () => {
    if (!response.ok || response.body === null) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!frame.includes('event: receipt')) continue;
          const id = /^id: (\d+)$/m.exec(frame)?.[1] ?? '';
          const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? '{}') as { tool?: string };
          events.push({ id, ...(data.tool === undefined ? {} : { tool: data.tool }) });
        }
      }
    } catch {
      // aborted
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  })();
  return { status: response.status, events, stop: () => abort.abort(), done };
}
