import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { freshHome } from '../gateway/service/node-home.js';
import { CLI, isRoot, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9 (approval desk): the party that asked must never approve its own call. A server under
 * `--require-approval` that finds the desk's token (`<home>/approval-desks/`) can approve itself at
 * `/oacp/approvals`; one that can write the home's approval spool (`<home>/approvals/`) can leave a
 * decision there. The light tier runs the server as the home's owner, so a bridge with approvals
 * refuses it (by name); in the hardened and gVisor tiers the home is never in the sandbox. The attack
 * through the real CLI, as root and as uid 1000: a server that lists the desks, reads every token it
 * finds, and writes a decision, once the bridge's token file exists on the host.
 */
const THIEF = join(import.meta.dirname, 'fixtures', 'approval-thief.mjs');
const hardened = (await new HardenedTier().availability()).available;
const gvisor = await (async () => {
  const { GvisorTier } = await import('../../src/airlock/gvisor/tier.js');
  return (await new GvisorTier().availability()).available;
})();
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];
const homes: string[] = [];
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

interface Bridge {
  readonly child: ChildProcess;
  stderr(): string;
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

async function bridge(
  tier: string,
  user: typeof REGULAR_USER | undefined,
): Promise<Bridge & { home: string }> {
  const { home, env } = await freshHome('oacp-approval-self-');
  homes.push(home);
  if (user !== undefined) {
    for (const path of [home, ...readdirSync(home, { recursive: true }).map((p) => join(home, String(p)))]) {
      chownSync(path, user.uid, user.gid);
    }
  }
  const args = [
    CLI,
    '--home',
    home,
    'mcp',
    'run',
    '--tier',
    tier,
    '--http',
    '127.0.0.1:0',
    '--require-approval',
    'echo',
    ...(user === undefined && isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
    '--',
    process.execPath,
    THIEF,
    home,
  ];
  const [file = '', ...rest] =
    user === undefined
      ? [process.execPath, ...args]
      : [
          '/usr/bin/setpriv',
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          '--clear-groups',
          process.execPath,
          ...args,
        ];
  const child = spawn(file, rest, {
    env: { PATH: '/usr/bin:/bin', HOME: home, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 1200; i++) {
      const found = pattern.exec(stderr);
      if (found !== null) return found;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${pattern} in the bridge's stderr: ${stderr}`);
  };
  return { child, home, stderr: () => stderr, waitFor, exited };
}

/** The agent's own credential: the bridge's client token (not the desk's), as its operator hands it on. */
async function clientAuth(run: Bridge): Promise<{ requestInit: RequestInit }> {
  const file = (await run.waitFor(/MCP clients need Authorization: Bearer \$\(cat (\S+)\)/))[1] ?? '';
  const token = readFileSync(file, 'utf8').trim();
  return { requestInit: { headers: { authorization: `Bearer ${token}` } } };
}

describe('a server under --require-approval cannot approve its own calls', () => {
  for (const user of users) {
    const as = user === undefined ? 'as the invoker' : 'as uid 1000';
    it(`${as}: the light tier is refused, by name, before the server starts`, {
      timeout: 60_000,
    }, async () => {
      const run = await bridge('light', user);
      const started = await Promise.race([
        run.exited.then(() => undefined),
        run.waitFor(/MCP bridge for \S+ at (http:\S+)/).then((found) => found[1]),
      ]);
      if (started !== undefined) {
        // What the refusal prevents: the server starts as the home's owner and takes the token.
        const client = new Client({ name: 'agent', version: '1.0.0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(started), await clientAuth(run)));
        const line = (await run.waitFor(/\] thief: ([^\n]*)/))[1];
        await client.close();
        run.child.kill('SIGTERM');
        await run.exited;
        expect.fail(`the light tier started a server under --require-approval, which tried: ${line}`);
      }
      expect(await run.exited).not.toBe(0);
      expect(run.stderr()).toMatch(/--tier light: the light tier runs servers as you/);
      expect(run.stderr()).toMatch(/runs in tier hardened \(the default\) or gvisor/);
      expect(run.stderr()).not.toContain('] thief:');
    });

    for (const [tier, available] of [
      ['hardened', hardened],
      ['gvisor', gvisor],
    ] as const) {
      it.skipIf(!available)(
        `${as}, ${tier}: the desk's token and the spool are out of reach`,
        {
          timeout: 120_000,
        },
        async () => {
          const run = await bridge(tier, user);
          try {
            const url = new URL((await run.waitFor(/MCP bridge for \S+ at (http:\S+)/))[1] ?? '');
            // The token the thief is after exists on the host, with the name the bridge logged.
            const token =
              (await run.waitFor(/approvals at \S+ need Authorization: Bearer \$\(cat (\S+)\)/))[1] ?? '';
            expect(existsSync(token)).toBe(true);
            const client = new Client({ name: 'agent', version: '1.0.0' });
            await client.connect(new StreamableHTTPClientTransport(url, await clientAuth(run)));
            try {
              const line = (await run.waitFor(/\] thief: ([^\n]*)/))[1] ?? '';
              expect(line).toMatch(/home=\w+/);
              // Every try failed: nothing of the home is listed, read or written from inside.
              expect(line).not.toMatch(/=ok/);
              expect(
                existsSync(join(run.home, 'approvals', '00000000-0000-4000-8000-000000000000.decision.json')),
              ).toBe(false);
            } finally {
              await client.close();
            }
          } finally {
            run.child.kill('SIGTERM');
            await run.exited;
          }
        },
      );
    }
  }
});
