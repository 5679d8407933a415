import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { type CompatOutcome, type Identity, makeGrant, REGULAR_UID } from './harness.js';
import { type CompatServer, serverEnv } from './servers.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const NODE_MODULES = join(import.meta.dirname, '..', '..', 'node_modules');

/** The npm package each compatibility server comes from (the version this project installed). */
const PACKAGES: Readonly<Record<string, string>> = {
  'sequential-thinking': '@modelcontextprotocol/server-sequential-thinking',
  playwright: '@playwright/mcp',
  'chrome-devtools': 'chrome-devtools-mcp',
  'code-runner': 'mcp-server-code-runner',
  obsidian: 'mcp-obsidian',
  context7: '@upstash/context7-mcp',
  notion: '@notionhq/notion-mcp-server',
  github: '@modelcontextprotocol/server-github',
  postgres: '@modelcontextprotocol/server-postgres',
  'antv-chart': '@antv/mcp-server-chart',
  memory: '@modelcontextprotocol/server-memory',
  filesystem: '@modelcontextprotocol/server-filesystem',
  everything: '@modelcontextprotocol/server-everything',
  'brave-search': '@modelcontextprotocol/server-brave-search',
  slack: '@modelcontextprotocol/server-slack',
  'google-maps': '@modelcontextprotocol/server-google-maps',
  everart: '@modelcontextprotocol/server-everart',
  tavily: 'tavily-mcp',
  exa: 'exa-mcp-server',
  figma: 'figma-developer-mcp',
  airtable: 'airtable-mcp-server',
  'youtube-transcript': '@kimtaeyoon83/mcp-server-youtube-transcript',
  duckduckgo: 'duckduckgo-mcp-server',
  hubspot: '@hubspot/mcp-server',
  'brave-search-v2': '@brave/brave-search-mcp-server',
  'mcp-remote': 'mcp-remote',
};

/** The reference servers test/mcp runs directly, here through the package forms too. */
export const REFERENCE_SERVERS: readonly CompatServer[] = [
  {
    // Its graph is a file in the grant named by MEMORY_FILE_PATH, seeded with one entity it must read back.
    name: 'memory',
    script: join(NODE_MODULES, '@modelcontextprotocol/server-memory/dist/index.js'),
    args: () => [],
    grantEnv: (grant) => ({ MEMORY_FILE_PATH: `${grant}/memory.jsonl` }),
    files: {
      'memory.jsonl': `${JSON.stringify({ type: 'entity', name: 'oacp-seed', entityType: 'test', observations: [] })}\n`,
    },
    lists: 'read_graph',
    call: { name: 'read_graph', arguments: () => ({}) },
    answer: /oacp-seed/,
  },
  {
    name: 'filesystem',
    script: join(NODE_MODULES, '@modelcontextprotocol/server-filesystem/dist/index.js'),
    args: (grant) => [grant],
    lists: 'list_directory',
    call: { name: 'list_directory', arguments: (grant) => ({ path: grant }) },
    answer: /hello\.md/,
  },
  {
    name: 'everything',
    script: join(NODE_MODULES, '@modelcontextprotocol/server-everything/dist/index.js'),
    args: () => [],
    lists: 'echo',
    call: { name: 'echo', arguments: () => ({ message: 'through npm:' }) },
    answer: /through npm:/,
  },
];

/**
 * Servers that fail as freshly installed even when started directly (not
 * through OACP), with why: `npx -y mcp-obsidian` today resolves dependencies
 * under which its tools/list is rejected by the MCP SDK client
 * (`tools[0].inputSchema.type: expected "object"`); this project's lock pins
 * older ones, so the direct suite passes.
 */
export const FAILS_DIRECTLY_WHEN_FRESH: Readonly<Record<string, string>> = {
  obsidian: 'tools/list rejected by the SDK client (inputSchema.type) with freshly resolved dependencies',
};

/** `<package>@<version>` for a compatibility server, the version pinned in this project's lock. */
export function packageOf(server: CompatServer): string {
  const name = PACKAGES[server.name];
  if (name === undefined) throw new Error(`no npm package known for compat server ${server.name}`);
  const { version } = JSON.parse(readFileSync(join(NODE_MODULES, name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return `${name}@${version}`;
}

export type Form = 'npm:' | 'npx -y';

/** One OACP home (and npm cache) per identity, shared by its runs: the second form reuses the pinned tree. */
export interface CompatHome {
  readonly identity: Identity;
  readonly dir: string;
  readonly home: string;
  readonly env: Record<string, string>;
  dispose(): void;
}

export function compatHome(identity: Identity): CompatHome {
  const dir = join(tmpdir(), `oacp-compat-npm-${identity}-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  const uid = identity === 'user' ? REGULAR_UID : 0;
  if (identity === 'user') chownSync(dir, uid, uid);
  const home = join(dir, 'oacp');
  // The npm client runs outside the sandbox, as the user, with the user's own cache (HOME).
  const env = { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin`, HOME: dir };
  const init = spawnSync(...as(identity, [BIN, '--home', home, 'init']), { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`oacp init failed: ${init.stderr}`);
  return { identity, dir, home, env, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

function as(identity: Identity, argv: string[]): [string, string[]] {
  return identity === 'user'
    ? [
        '/usr/bin/setpriv',
        [`--reuid=${REGULAR_UID}`, `--regid=${REGULAR_UID}`, '--clear-groups', process.execPath, ...argv],
      ]
    : [process.execPath, argv];
}

/**
 * `oacp mcp run --tier hardened --allow-files GRANT:rw -- npm:<pkg>@<v> ARGS`
 * (or `-- npx -y <pkg>@<v> ARGS`) as a user would type it, driven by the
 * official SDK client: tools/list, then one call.
 */
export async function runNpmForm(server: CompatServer, form: Form, at: CompatHome): Promise<CompatOutcome> {
  const grant = makeGrant(server, at.identity);
  const serverEnvironment = serverEnv(server, grant);
  const pkg = packageOf(server);
  const wrapped = form === 'npm:' ? [`npm:${pkg}`] : ['npx', '-y', pkg];
  const [command, args] = as(at.identity, [
    BIN,
    '--home',
    at.home,
    'mcp',
    'run',
    '--tier',
    'hardened',
    '--allow-files',
    `${grant}:rw`,
    ...Object.keys(serverEnvironment).flatMap((name) => ['--allow-env', name]),
    ...(server.flags ?? []),
    ...(at.identity === 'user' ? ['--allow-unenforced', 'memory,pids,cpu,disk_io'] : []),
    '--',
    ...wrapped,
    ...server.args(grant),
  ]);
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...at.env, ...serverEnvironment },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'oacp-compat-npm', version: '1.0.0' });
  try {
    await client.connect(transport);
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    try {
      const result = await client.callTool({
        name: server.call.name,
        arguments: server.call.arguments(grant),
      });
      return {
        tools,
        text: JSON.stringify(result.content ?? result),
        isError: result.isError === true,
        stderr,
      };
    } catch (error) {
      const lost = [ErrorCode.ConnectionClosed, ErrorCode.RequestTimeout] as number[];
      if (!(error instanceof McpError) || lost.includes(error.code)) throw error;
      return { tools, text: error.message, isError: true, stderr };
    }
  } catch (error) {
    throw new Error(
      `${server.name} (${form}, ${at.identity}): ${(error as Error).message}\n${stderr.slice(-2000)}`,
    );
  } finally {
    await client.close().catch(() => undefined);
    rmSync(grant, { recursive: true, force: true });
  }
}
