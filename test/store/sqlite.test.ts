import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { storeContract } from './store-contract.js';

describe('SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-store-'));
  let n = 0;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  storeContract(async () => {
    n += 1;
    return join(dir, `store-${n}`, 'gateway.db');
  });
});
