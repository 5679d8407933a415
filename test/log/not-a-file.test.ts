import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { filesUnder } from './tile-client.js';

// Someone puts something that is not a file where the log keeps one: a FIFO (a read or an
// open of it would block forever), a link to /dev/zero (never ends), a directory. Opening
// must refuse at once with a typed error naming the file, and change nothing.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const origin = 'oacp.example/not-a-file';
const signer = keySigner(generateEd25519().privateKey);

async function logWith(entries: number): Promise<{ dir: string; state: string }> {
  const root = mkdtempSync(join(tmpdir(), 'oacp-notfile-'));
  dirs.push(root);
  const dir = join(root, 'log');
  const state = join(root, 'state.json');
  const log = await TransparencyLog.open(dir, { origin, signer, stateFile: state });
  for (let i = 0; i < entries; i++) await log.append(new TextEncoder().encode(`entry ${i}`));
  await log.close();
  return { dir, state };
}

const replacements: Record<string, (path: string) => void> = {
  'a FIFO': (path) => execFileSync('mkfifo', [path]),
  'a link to /dev/zero': (path) => symlinkSync('/dev/zero', path),
  'a directory': (path) => mkdirSync(path),
};

describe('a log file replaced by something that is not a regular file', () => {
  for (const [what, put] of Object.entries(replacements)) {
    for (const file of ['log.wal', 'checkpoint', 'state', 'tile/0/000.p/3']) {
      it(`attack: ${file} is ${what}: opening refuses at once with a typed error, for a writer and a reader, changing nothing`, async () => {
        const { dir, state } = await logWith(3);
        const path = file === 'state' ? state : join(dir, file);
        renameSync(path, `${path}.kept`);
        put(path);
        const before = filesUnder(dir).sort();
        for (const readOnly of [false, true]) {
          const opened = TransparencyLog.open(dir, { origin, signer, stateFile: state, readOnly });
          await expect(opened).rejects.toMatchObject({
            code: expect.stringMatching(/^LOG_(CORRUPT|FAILED|SIGNED_STATE)$/),
          });
          const message = (await opened.catch((error: Error) => error)) as Error;
          expect(message.message).not.toContain('\n');
          expect(message.message).toMatch(/regular file|EISDIR|cannot|cut short/);
        }
        expect(filesUnder(dir).sort()).toEqual(before);
      });
    }
  }
});
