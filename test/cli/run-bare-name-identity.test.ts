import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import { oacpBinary } from './harness.js';
import { executionReceipts } from './home-receipts.js';

/**
 * A bare command runs from the sandbox's fixed PATH (/usr/local/bin:/usr/bin:/bin); the receipt
 * must digest that file, not one the invoker's PATH finds first (`~/bin/echo`, `node_modules/.bin`).
 */
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const hardenedOk = (await new HardenedTier().availability()).available;
const scratch = mkdtempSync(join(tmpdir(), 'oacp-bare-name-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SYSTEM_ECHO = realpathSync('/usr/bin/echo');
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A directory put first on PATH holding its own `echo`, as `~/bin` or a project's `.bin` might. */
function shadowingPath(): string {
  const dir = join(scratch, 'bin');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'echo'), '#!/bin/sh\nprintf "shadow\\n"\n', { mode: 0o755 });
  return `${dir}:${process.env.PATH ?? ''}`;
}

describe('a bare command shadowed on the invoker PATH', () => {
  it("identifies the server by the sandbox PATH's file, not the invoker's", () => {
    const saved = process.env.PATH;
    process.env.PATH = shadowingPath();
    try {
      const identity = serverIdentity('echo', 'echo', ['hi']);
      expect(identity.executable).toEqual({ path: SYSTEM_ECHO, sha256: sha256(SYSTEM_ECHO) });
    } finally {
      process.env.PATH = saved;
    }
  });

  it.skipIf(!hardenedOk || !existsSync(BIN))("digests in the run's receipt the file that ran", async () => {
    const home = join(scratch, 'home');
    expect(oacpBinary(['--home', home, 'init']).code).toBe(0);
    const result = oacpBinary(['--home', home, 'run', '--', 'echo', 'system'], { PATH: shadowingPath() });
    // What ran: the system's echo, not the shadow on the invoker's PATH.
    expect(result.stdout).toBe('system\n');
    const [receipt] = await executionReceipts(home);
    expect(receipt?.codeDigest).toBe(
      jcsDigest({ command: ['echo', 'system'], files: [{ path: SYSTEM_ECHO, sha256: sha256(SYSTEM_ECHO) }] }),
    );
  });
});
