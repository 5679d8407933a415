import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keySigner, privateKeyFromSeed } from '../../src/core/ed25519.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { appendChildScript } from './child-bundle.js';
import { entryFromTiles, rootFromTiles } from './tile-client.js';

const REPO = join(import.meta.dirname, '..', '..');
const CHILD = appendChildScript();
const origin = 'oacp.example/many-writers';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs one writer process to completion and returns what it acknowledged: index -> sha256. */
function writer(dir: string, seed: string, tag: string, count: number): Promise<Map<number, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, seed, origin, tag, 'durable', String(count)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`writer ${tag} exited ${code}: ${err}`));
      const acked = new Map<number, string>();
      for (const match of out.matchAll(/^(\d+) ([0-9a-f]{64})$/gm))
        acked.set(Number(match[1]), String(match[2]));
      resolve(acked);
    });
  });
}

describe('TransparencyLog: several writer processes on one home', () => {
  for (const processes of [2, 10]) {
    it(`${processes} processes appending at once get distinct, gap-free indexes and one signed tree`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oacp-writers-'));
      dirs.push(dir);
      const seed = randomBytes(32).toString('hex');
      const perWriter = processes === 2 ? 300 : 60;
      const results = await Promise.all(
        Array.from({ length: processes }, (_, w) => writer(dir, seed, `w${w}`, perWriter)),
      );
      const all = new Map<number, string>();
      for (const acked of results) {
        expect(acked.size).toBe(perWriter);
        for (const [index, digest] of acked) {
          expect(all.has(index), `index ${index} handed out twice`).toBe(false);
          all.set(index, digest);
        }
      }
      const total = processes * perWriter;
      expect([...all.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
      const signer = keySigner(privateKeyFromSeed(Buffer.from(seed, 'hex')));
      const reader = await TransparencyLog.open(dir, { origin, signer, readOnly: true });
      expect(reader.size).toBe(total);
      await reader.close();
      const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), reader.verifierKey);
      if (!opened.ok) throw new Error(opened.reason);
      expect(opened.value.checkpoint.size).toBe(total);
      expect(rootFromTiles(dir, total)).toEqual(opened.value.checkpoint.root);
      for (const [index, digest] of all) {
        expect(
          createHash('sha256')
            .update(entryFromTiles(dir, index, total))
            .digest('hex'),
        ).toBe(digest);
      }
    });
  }
});
