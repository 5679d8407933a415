import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, listen on
 * a free loopback port (and a socket in the same dir), trust auth, no fsync
 * (tests need speed, not crash safety). As root, initdb and postgres refuse
 * to run, so they run as the `postgres` user via runuser.
 *
 * Use in beforeAll: `const pg = await startPostgres(); if ('skipped' in pg) ...`.
 */
export interface PostgresServer {
  /** URL of the `postgres` maintenance database. */
  readonly url: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server as a crash would (immediate), keeping its data for `resume`. */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port, with its data. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export type PostgresStart = PostgresServer | { readonly skipped: string };

const run = promisify(execFile);

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const MISSING =
  'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)';

/** Why PostgreSQL tests cannot run here, or undefined; synchronous so describe.skipIf can use it. */
export function postgresUnavailable(): string | undefined {
  if (binDir() === undefined) return MISSING;
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) {
    return 'running as root without runuser to start the server as the postgres user';
  }
  return undefined;
}

/**
 * `durableCommits`: a commit is written out before it is acknowledged (synchronous_commit on, PostgreSQL's
 * default), for tests that crash the server (`halt`) and count what survived; without it the last commits
 * before a crash may be lost, as the server was told it may.
 */
export async function startPostgres(
  options: { readonly durableCommits?: boolean } = {},
): Promise<PostgresStart> {
  const bin = binDir();
  if (bin === undefined) return { skipped: MISSING };
  const asRoot = process.getuid?.() === 0;
  const as = async (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    return run(file, argv, { timeout: 60_000 });
  };
  const dir = mkdtempSync(join(tmpdir(), 'oacp-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    try {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return { skipped: 'running as root and there is no postgres user to run the server as' };
    }
  }
  try {
    await as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return {
      skipped: `initdb failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    };
  }
  let port = 0;
  let started = false;
  let lastError = '';
  // The free port can be taken between probing and binding; try a few.
  const pgStart = (on: number) =>
    as(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${on} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=${options.durableCommits === true ? 'on' : 'off'} -c full_page_writes=off`,
      'start',
    ]);
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freePort();
    try {
      await pgStart(port);
      started = true;
    } catch (error) {
      lastError = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    }
  }
  if (!started) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `postgres did not start: ${lastError}` };
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    async createDatabase() {
      databases += 1;
      const name = `oacp_test_${process.pid}_${databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async halt() {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    },
    async resume() {
      await pgStart(port);
    },
    async stop() {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
