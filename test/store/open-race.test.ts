import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Several processes of a home open its SQLite files at once (two bridges started together, a
 * gateway and a bridge): on a file none of them has made yet, SQLite answers the switch to WAL
 * with SQLITE_BUSY at once, without waiting, and a bridge failed to start with "cannot open the
 * nonce store …: database is locked" (seen in CI). Real processes, each opening the home's nonce
 * store and gateway store in the same instant, round after round on fresh files.
 */
const DIST = join(import.meta.dirname, '..', '..', 'dist');
const PROCESSES = 6;
const ROUNDS = 25;
const dir = mkdtempSync(join(tmpdir(), 'oacp-open-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = `
import { SqliteNonceStore } from ${JSON.stringify(join(DIST, 'identity', 'sqlite-nonce-store.js'))};
import { openSqliteStore } from ${JSON.stringify(join(DIST, 'store', 'sqlite-store.js'))};
const [dir, first, rounds, step] = process.argv.slice(1);
for (let round = 0; round < Number(rounds); round++) {
  const at = Number(first) + round * Number(step);
  // Asleep until just before the instant, then a short spin to meet it.
  const nap = at - Date.now() - 3;
  if (nap > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, nap);
  while (Date.now() < at) {}
  const home = dir + '/' + round;
  try {
    const nonces = new SqliteNonceStore(home + '/nonces.db');
    nonces.checkAndRemember('n' + process.pid, Date.now() + 60_000);
    nonces.close();
    const store = await openSqliteStore(home + '/gateway.db');
    await store.close();
    console.log('ok');
  } catch (error) {
    console.log('FAIL ' + round + ': ' + error.message);
  }
}
`;

function opener(first: number, step: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', CHILD, dir, String(first), String(ROUNDS), String(step)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
}

describe('SQLite files of a home opened by several processes at once', () => {
  it('attack: six processes open a fresh nonce store and gateway store in the same instant, 25 times: every open succeeds', async () => {
    for (let round = 0; round < ROUNDS; round++) mkdirSync(join(dir, String(round)));
    // Every process starts each round at the same wall-clock instant, 150 ms apart.
    const first = Date.now() + 2_000;
    const outputs = await Promise.all(Array.from({ length: PROCESSES }, () => opener(first, 150)));
    const lines = outputs.flatMap((out) => out.split('\n').filter((line) => line !== ''));
    expect(lines.filter((line) => line !== 'ok')).toEqual([]);
    expect(lines).toHaveLength(PROCESSES * ROUNDS);
  }, 60_000);
});
