import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { withLogState } from '../log-state.js';
import { type CompatServer, serverEnv } from './servers.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
/** The regular user the suite also runs as (as in the issue: an ordinary account, not root). */
export const REGULAR_UID = 1000;

export type Identity = 'root' | 'user';

export interface CompatOutcome {
  readonly tools: readonly string[];
  readonly text: string;
  readonly isError: boolean;
  readonly stderr: string;
}

/** Whether another user (the regular uid) can reach `path`: o+x on every directory above it. */
export function reachableByOthers(path: string): boolean {
  for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
  }
  return true;
}

/** dist/ is built, and the regular user can reach it and node_modules (CI may check out under /root). */
export function binaryBuilt(): boolean {
  const ok = existsSync(BIN) && reachableByOthers(BIN);
  if (!ok) console.log(`skipping: ${BIN} is not built or not reachable by uid ${REGULAR_UID}`);
  return ok;
}

/**
 * The grant a server runs with: as private as `mktemp -d` (0700, random
 * name; lower case because mcp-obsidian lower-cases vault paths), holding
 * `hello.md` and the server's own `files`, owned by the identity that runs it.
 */
export function makeGrant(server: CompatServer, identity: Identity): string {
  const grant = join(tmpdir(), `oacp-compat-grant-${randomBytes(6).toString('hex')}`);
  mkdirSync(grant, { mode: 0o700 });
  const files = { 'hello.md': '# hello\n', ...server.files };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(grant, name), text);
  if (identity === 'user') {
    chownSync(grant, REGULAR_UID, REGULAR_UID);
    for (const name of Object.keys(files)) chownSync(join(grant, name), REGULAR_UID, REGULAR_UID);
  }
  return grant;
}

/**
 * Starts `oacp mcp run --tier TIER --allow-files GRANT:rw -- node SERVER`
 * as root or as a regular user (setpriv, scratch HOME and OACP home),
 * with the grant a fresh private (0700) `mkdtemp` directory owned by that
 * identity, and drives it with the official SDK client: tools/list, then
 * one call.
 */
export async function runCompat(
  server: CompatServer,
  tier: 'hardened' | 'gvisor',
  identity: Identity,
): Promise<CompatOutcome> {
  const scratch = mkdtempSync(join(tmpdir(), 'oacp-compat-'));
  const grant = makeGrant(server, identity);
  const uid = identity === 'user' ? REGULAR_UID : 0;
  if (identity === 'user') chownSync(scratch, uid, uid);
  const serverEnvironment = serverEnv(server, grant);
  const home = join(scratch, 'oacp');
  const as = (argv: string[]): [string, string[]] =>
    identity === 'user'
      ? [
          '/usr/bin/setpriv',
          [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, ...argv],
        ]
      : [process.execPath, argv];
  const env =
    identity === 'user'
      ? { PATH: '/usr/bin:/bin', HOME: scratch }
      : withLogState({ PATH: '/usr/bin:/bin', HOME: scratch });
  const init = spawnSync(...as([BIN, '--home', home, 'init']), { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`oacp init failed: ${init.stderr}`);
  const oacpArgs = [
    BIN,
    '--home',
    home,
    'mcp',
    'run',
    '--tier',
    tier,
    '--allow-files',
    `${grant}:rw`,
    ...Object.keys(serverEnvironment).flatMap((name) => ['--allow-env', name]),
    ...(server.flags ?? []),
    // cgroup v1 is root-only: a regular user's sandboxes need the opt-out on such hosts.
    ...(identity === 'user' ? ['--allow-unenforced', 'memory,pids,cpu,disk_io'] : []),
    '--',
    ...(server.direct === true ? [server.script] : [process.execPath, server.script]),
    ...server.args(grant),
  ];
  const [command, args] = as(oacpArgs);
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...env, ...serverEnvironment },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'oacp-compat', version: '1.0.0' });
  try {
    await client.connect(transport);
    const listed = await client.listTools();
    const tools = listed.tools.map((tool) => tool.name);
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
      // A JSON-RPC error from the server is an answer; a closed connection or a timeout is not.
      const lost = [ErrorCode.ConnectionClosed, ErrorCode.RequestTimeout] as number[];
      if (!(error instanceof McpError) || lost.includes(error.code)) throw error;
      return { tools, text: error.message, isError: true, stderr };
    }
  } catch (error) {
    throw new Error(
      `${server.name} (${tier}, ${identity}): ${(error as Error).message}\n${stderr.slice(-2000)}`,
    );
  } finally {
    await client.close().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
    rmSync(grant, { recursive: true, force: true });
  }
}
