import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ApiKeys } from '../../../src/gateway/apikeys/api-keys.js';
import { defaultStorePath, openStore } from '../../../src/store/open-store.js';
import { withLogState } from '../../log-state.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'gateway-child.ts');
const DIST = join(REPO, 'dist');
const BUILT_CLI = join(DIST, 'cli', 'main.js');
const DIST_FIXTURE = join(import.meta.dirname, 'fixtures', 'gateway-child-dist.mjs');
export const MEMORY_SERVER = join(REPO, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

/** Newest modification time of the sources dist/ is built from. */
function newestSource(dir = join(REPO, 'src')): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = statSync(path);
    newest = Math.max(
      newest,
      info.isDirectory() ? newestSource(path) : name.endsWith('.ts') ? info.mtimeMs : 0,
    );
  }
  return newest;
}

/** dist/ holds the gateway command and is not older than any source (npm test builds it first). */
function distIsFresh(): boolean {
  const built = join(DIST, 'cli', 'commands', 'gateway.js');
  return existsSync(built) && existsSync(BUILT_CLI) && statSync(built).mtimeMs >= newestSource();
}

/** The built CLI when `npm test` built it with the gateway command registered. */
function builtCliHasGateway(): boolean {
  if (!distIsFresh()) return false;
  const probe = spawnSync(process.execPath, [BUILT_CLI, 'gateway', '--help'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return probe.status === 0 && probe.stdout.includes('--listen');
}

export interface ChildStats {
  readonly fds: number;
  /** Open descriptors by kind (socket, pipe, anon_inode, file). */
  readonly kinds: Record<string, number>;
  readonly heapUsed: number;
  readonly gc: boolean;
}

export interface ChildGateway {
  readonly process: ChildProcess;
  readonly url: URL;
  /** The fixture's stats command (fds, heap after GC); undefined with the built CLI. */
  stats(): Promise<ChildStats>;
  stderr(): string;
  exited: Promise<void>;
}

/** `more`: further top-level sections (a shared `gateway.store`, quotas). */
export function writeConfig(home: string, memoryFile: string, more: Record<string, unknown> = {}): string {
  const path = join(home, 'oacp.yaml');
  writeFileSync(
    path,
    stringify({
      ...more,
      sandbox: { capabilities: { tools: { allow: ['*'] } } },
      attestation: { level: 'standard' },
      mcp: {
        servers: [
          {
            name: 'memory',
            command: process.execPath,
            args: [MEMORY_SERVER],
            tier: 'light',
            allow_env: ['MEMORY_FILE_PATH'],
          },
        ],
      },
    }),
  );
  writeFileSync(memoryFile, '');
  return path;
}

/** An admin key created straight in the store, before the gateway runs. */
export async function adminKey(home: string): Promise<string> {
  const store = await openStore(defaultStorePath(home));
  try {
    return (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
  } finally {
    await store.close();
  }
}

export async function startChild(
  home: string,
  config: string,
  env: Record<string, string>,
  options: {
    fixture?: boolean;
    exposeGc?: boolean;
    /** The gateway's --log-level (default error); its stderr() keeps the newest 100 kB. */
    logLevel?: 'debug' | 'info' | 'warn' | 'error';
  } = {},
): Promise<ChildGateway> {
  // Preference: the built CLI itself; else the same command from dist/ with the stats hook;
  // else (no fresh build) the TypeScript sources through vite-node, slower to start.
  const gc = options.exposeGc === true ? ['--expose-gc'] : [];
  const level = options.logLevel ?? 'error';
  const cli = [BUILT_CLI, '--home', home, 'gateway', '--config', config, '--listen', '127.0.0.1:0'];
  const args =
    options.fixture !== true && builtCliHasGateway()
      ? [...cli, '--log-level', level]
      : distIsFresh()
        ? [...gc, DIST_FIXTURE, DIST, home, config, '127.0.0.1:0', level]
        : [...gc, VITE_NODE, FIXTURE, home, config, '127.0.0.1:0', level];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: withLogState({ PATH: process.env.PATH ?? '', ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-100_000);
  });
  const lines: string[] = [];
  const waiters: Array<(line: string) => boolean> = [];
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]?.(line) === true) waiters.splice(i, 1);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = (match: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find((line) => match.test(line));
      if (found !== undefined) return resolve(found);
      const timer = setTimeout(
        () => reject(new Error(`child said nothing matching ${match} in ${timeoutMs} ms: ${stderr}`)),
        timeoutMs,
      );
      void exited.then(() => reject(new Error(`child exited: ${stderr}`)));
      waiters.push((line) => {
        if (!match.test(line)) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      });
    });
  const listening = await next(/^oacp gateway listening on /, 60_000);
  const url = new URL(/listening on (\S+)/.exec(listening)?.[1] ?? '');
  return {
    process: child,
    url,
    exited,
    stderr: () => stderr,
    async stats() {
      lines.splice(0, lines.length, ...lines.filter((line) => !line.startsWith('stats ')));
      child.stdin?.write('stats\n');
      const line = await next(/^stats /, 20_000);
      return JSON.parse(line.slice('stats '.length)) as ChildStats;
    },
  };
}
