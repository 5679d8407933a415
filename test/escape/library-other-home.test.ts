import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore, OacpNode } from '../../src/index.js';
import { withLogState } from '../log-state.js';
import { isRoot, oacpCli, REGULAR_USER } from './confine-harness.js';

/**
 * Root working in another account's home leaves root-owned files there (the log, intents) and
 * locks the owner out. The CLI refused it (src/cli/home.ts), but a program using OACP as a
 * library (`OacpNode.open`, `KeyStore`) did not: the refusal is now in the identity layer, where
 * both go through.
 */
describe.skipIf(!isRoot)("root opening another account's home as a library", () => {
  const user = mkdtempSync(join(tmpdir(), 'oacp-lib-other-'));
  chownSync(user, REGULAR_USER.uid, REGULAR_USER.gid);
  const home = join(user, '.oacp');
  afterAll(() => rmSync(user, { recursive: true, force: true }));
  const listing = () => spawnSync('find', [home, '-printf', '%p %u %m\n'], { encoding: 'utf8' }).stdout;

  it('is refused by OacpNode.open, KeyStore.open and KeyStore.init, naming the owner, and nothing there changes', async () => {
    const made = await oacpCli(['init'], { asUser: REGULAR_USER, env: { HOME: user } });
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const before = listing();
    const refusal = {
      code: 'IDENTITY_HOME_NOT_OURS',
      message: `${home} is the OACP home of uid 1000; as root, files made there would lock its owner out: open it as uid 1000, or give root a home of its own`,
    };
    await expect(OacpNode.open(home, withLogState({}))).rejects.toMatchObject(refusal);
    await expect(OacpNode.open(home, withLogState({}), { readOnly: true })).rejects.toMatchObject(refusal);
    expect(() => KeyStore.open(home, {})).toThrow(expect.objectContaining(refusal));
    await expect(KeyStore.init(home, { env: {}, force: true })).rejects.toMatchObject(refusal);
    expect(listing()).toBe(before);
    expect(listing()).not.toMatch(/ root /);
    // The owner's commands keep working, and root's own home opens.
    const owner = await oacpCli(['agent', 'create', 'bob'], { asUser: REGULAR_USER, env: { HOME: user } });
    expect(owner.stderr).toBe('');
    expect(owner.code).toBe(0);
    const rootHome = join(mkdtempSync(join(tmpdir(), 'oacp-lib-root-')), 'home');
    try {
      expect((await oacpCli(['--home', rootHome, 'init'])).code).toBe(0);
      const node = await OacpNode.open(rootHome, {});
      expect(node.home).toBe(rootHome);
      await node.close();
    } finally {
      rmSync(join(rootHome, '..'), { recursive: true, force: true });
    }
  });
});
