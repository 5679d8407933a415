import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freshHome } from '../gateway/service/node-home.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
/** The real `@modelcontextprotocol/server-memory` from node_modules. */
export const MEMORY_SERVER = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-memory/dist/index.js',
);

/** A real `oacp mcp run --tier TIER --http 127.0.0.1:0` (dist) bridging server-memory, on a fresh home. */
export interface CliHttpBridge {
  /** Its Streamable HTTP endpoint (`…/mcp`). */
  readonly url: URL;
  readonly home: string;
  /** The client token the bridge made (read from the file its startup line names); undefined with --http-auth none or --http-token-file. */
  readonly token: string | undefined;
  /** `{ authorization: 'Bearer <token>' }`, for fetch and the SDK's `requestInit.headers` (empty without a token). */
  readonly headers: Readonly<Record<string, string>>;
  /** The environment the home needs (its master key), for other commands on it. */
  readonly env: Readonly<Record<string, string>>;
  /** All it wrote to stderr so far. */
  stderr(): string;
  /** The first match of `pattern` in its stderr, waiting for it (at most 60 s). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGTERM, then its exit; the home stays. */
  stop(): Promise<void>;
  /** SIGKILL, then its exit: nothing of the bridge runs to tidy up; the home stays. */
  kill(): Promise<void>;
  /** stop(), then the home removed. */
  close(): Promise<void>;
}

/**
 * Starts the bridge with `args` before the `--` and waits for its URL and, unless `args` choose the
 * client authentication, for the file of the client token it made: in the light tier unless told
 * (`--require-approval` needs another: a light server could approve its own calls).
 */
export async function startCliHttpBridge(
  prefix: string,
  args: readonly string[] = [],
  tier: 'light' | 'hardened' = 'light',
  /** A home to share with other bridges (default: a fresh one, removed by close()). */
  shared?: Awaited<ReturnType<typeof freshHome>>,
  /** The server's script, run by this Node (default: the real memory server). */
  server: string = MEMORY_SERVER,
): Promise<CliHttpBridge> {
  const home = shared ?? (await freshHome(prefix));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      '--home',
      home.home,
      'mcp',
      'run',
      '--tier',
      tier,
      '--http',
      '127.0.0.1:0',
      ...args,
      '--',
      process.execPath,
      server,
    ],
    { env: { PATH: process.env.PATH ?? '', ...home.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitFor = (pattern: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const check = setInterval(() => {
        const found = pattern.exec(stderr);
        if (found !== null) {
          clearInterval(check);
          resolve(found);
        } else if (child.exitCode !== null || Date.now() - started > 60_000) {
          clearInterval(check);
          reject(
            new Error(
              `the bridge ${child.exitCode === null ? 'never wrote' : 'exited before writing'} ${pattern}: ${stderr}`,
            ),
          );
        }
      }, 20);
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const [, at] = await waitFor(/ at (http:\/\/\S+\/mcp)/);
    const own = args.includes('--http-auth') || args.includes('--http-token-file');
    const file = own
      ? undefined
      : (await waitFor(/MCP clients need Authorization: Bearer \$\(cat (\S+)\)/))[1];
    const token = file === undefined ? undefined : readFileSync(file, 'utf8').trim();
    return {
      url: new URL(at ?? ''),
      home: home.home,
      token,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      env: home.env,
      stderr: () => stderr,
      waitFor,
      stop,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
      close: async () => {
        await stop();
        home.remove();
      },
    };
  } catch (error) {
    await stop();
    if (shared === undefined) home.remove();
    throw error;
  }
}
