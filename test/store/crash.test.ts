import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';

const REPO = join(import.meta.dirname, '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const CHILD = join(import.meta.dirname, 'fixtures', 'write-child.ts');
const present = existsSync(VITE_NODE);
if (!present)
  console.log(`skipping: the crash test runs its child with vite-node, not found at ${VITE_NODE}`);

const dir = mkdtempSync(join(tmpdir(), 'oacp-store-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has acknowledged `acks` agents, then SIGKILLs it mid-write. */
function runAndKill(path: string, acks: number): Promise<{ agents: Set<string>; maxQuota: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITE_NODE, CHILD, path], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const agents = new Set<string>();
    let maxQuota = 0;
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? ''; // a line cut by the kill is not an acknowledgement
      for (const line of lines) {
        const agent = /^agent (\S+)$/.exec(line);
        if (agent?.[1] !== undefined) agents.add(agent[1]);
        const quota = /^quota (\d+)$/.exec(line);
        if (quota?.[1] !== undefined) maxQuota = Math.max(maxQuota, Number(quota[1]));
      }
      if (agents.size >= acks && child.signalCode === null) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve({ agents, maxQuota });
      else reject(new Error(`writer exited by itself: ${stderr}`));
    });
  });
}

describe('SQLite store under kill -9', () => {
  it.skipIf(!present)('keeps every acknowledged write, consistent, across two kills', async () => {
    const path = join(dir, 'gateway.db');
    let expected = new Set<string>();
    let quotaFloor = 0;
    for (const acks of [60, 120]) {
      const { agents, maxQuota } = await runAndKill(path, acks);
      expected = new Set([...expected, ...agents]);
      quotaFloor = maxQuota;
      const store = await openStore(path);
      try {
        expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
        expect(await store.sql.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
        const ids = new Set((await store.agents.list()).map((a) => a.id));
        for (const id of expected) expect(ids.has(id), `acknowledged agent ${id} lost`).toBe(true);
        // Transactions are atomic: every surviving agent has its partition, and nothing else.
        const partitions = await store.sql.all<{ n: number }>('SELECT COUNT(*) AS n FROM context_partitions');
        expect(partitions[0]?.n).toBe(ids.size);
        expect((await store.quotaBuckets.get('crash:writes'))?.used).toBeGreaterThanOrEqual(quotaFloor);
      } finally {
        await store.close();
      }
    }
  });
});
