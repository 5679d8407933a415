import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicKeyFromPem } from '../../src/core/ed25519.js';
import { parseVerifierKey } from '../../src/log/note-keys.js';
import { oacp, oacpBinary, tempDir } from './harness.js';

describe('oacp init / agent create / keys export', () => {
  it('creates a home with 0600 key files, agents with did:key ids, and exports verifier keys', async () => {
    const home = join(tempDir(), 'home');
    const init = await oacp(['--home', home, 'init', '--origin', 'oacp.test/log']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('did:key:z6Mk');
    for (const file of ['master.key', 'keys/airlock.json', 'keys/log.json']) {
      expect(statSync(join(home, file)).mode & 0o777).toBe(0o600);
    }

    const agent = await oacp(['agent', 'create', 'alice'], { OACP_HOME: home });
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(/^alice did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/);

    const out = join(tempDir(), 'keys');
    const exported = await oacp(['--home', home, 'keys', 'export', '--out', out]);
    expect(exported.code).toBe(0);
    const vkey = parseVerifierKey(readFileSync(join(out, 'log.vkey'), 'utf8').trim());
    expect(vkey.name).toBe('oacp.test/log');
    expect(publicKeyFromPem(readFileSync(join(out, 'signer.pem'), 'utf8')).asymmetricKeyType).toBe('ed25519');
    expect(readFileSync(join(out, 'did-keys.txt'), 'utf8')).toMatch(/^airlock did:key:z6Mk/);
  });

  it('refuses to overwrite an existing home', async () => {
    const home = join(tempDir(), 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const again = await oacp(['--home', home, 'init']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('IDENTITY_HOME_EXISTS');
  });

  it('attack: --home naming a file, or a folder under a file, is one line naming the home, not a raw mkdir error', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    for (const home of [file, join(file, 'sub')]) {
      const init = await oacp(['--home', home, 'init']);
      expect(init.code).toBe(1);
      expect(init.stderr).toBe(
        `oacp: IDENTITY_HOME_UNUSABLE: cannot create an OACP home at ${home} (a file is in the way of its folders); give --home (or OACP_HOME) a folder`,
      );
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('attack: --home naming a folder every account may write (/tmp) is refused, and its mode is left alone', async () => {
    const shared = join(tempDir(), 'drop');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const init = await oacp(['--home', shared, 'init']);
    expect(init.code).toBe(1);
    expect(init.stderr).toBe(
      `oacp: IDENTITY_HOME_UNUSABLE: cannot make ${shared} an OACP home: every account may write it (mode 1777), and init would lock them out; give --home (or OACP_HOME) a folder of your own`,
    );
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    expect(readdirSync(shared)).toEqual([]);
  });

  it('attack: --home naming a folder of other files (/etc) is refused, with or without --force, and nothing in it changes', async () => {
    const folder = join(tempDir(), 'etc');
    mkdirSync(folder);
    chmodSync(folder, 0o755);
    writeFileSync(join(folder, 'passwd'), 'root:x:0:0\n');
    for (const args of [['init'], ['init', '--force']]) {
      const init = await oacp(['--home', folder, ...args]);
      expect(init.code).toBe(1);
      expect(init.stderr).toBe(
        `oacp: IDENTITY_HOME_UNUSABLE: cannot make ${folder} an OACP home: it holds other files (passwd), and init would make it 0700; give --home (or OACP_HOME) a new or empty folder`,
      );
      expect(statSync(folder).mode & 0o7777).toBe(0o755);
      expect(readdirSync(folder)).toEqual(['passwd']);
    }
  });

  it('an empty folder becomes a home, and an existing home is replaced with --force', async () => {
    const empty = join(tempDir(), 'empty');
    mkdirSync(empty);
    expect((await oacp(['--home', empty, 'init'])).code).toBe(0);
    expect(statSync(empty).mode & 0o777).toBe(0o700);
    expect((await oacp(['--home', empty, 'agent', 'create', 'carol'])).code).toBe(0);
    expect((await oacp(['--home', empty, 'init', '--force'])).code).toBe(0);
    expect(readdirSync(empty).sort()).toEqual(['agents', 'keys', 'master.key', 'node.json']);
  });

  it('refuses a duplicate or malformed agent name', async () => {
    const home = join(tempDir(), 'home');
    await oacp(['--home', home, 'init']);
    expect((await oacp(['--home', home, 'agent', 'create', 'bob'])).code).toBe(0);
    const dup = await oacp(['--home', home, 'agent', 'create', 'bob']);
    expect(dup.code).toBe(1);
    const bad = await oacp(['--home', home, 'agent', 'create', '../evil']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('IDENTITY_AGENT_NAME_INVALID');
  });

  it('says clearly when the home is missing or the master key is wrong, without a stack trace or the key', async () => {
    const missing = oacpBinary(['--home', join(tempDir(), 'nowhere'), 'agent', 'list']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^oacp: .*oacp init/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);

    const home = join(tempDir(), 'home');
    oacpBinary(['--home', home, 'init']);
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const wrong = oacpBinary(['--home', home, 'agent', 'list'], { OACP_MASTER_KEY: wrongKey });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('IDENTITY_MASTER_KEY_WRONG');
    expect(wrong.stderr).not.toContain(wrongKey);
    expect(wrong.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('rejects unknown commands and options with a usage error', async () => {
    expect((await oacp(['frobnicate'])).code).toBe(2);
    expect((await oacp(['init', '--bogus'])).code).toBe(2);
  });
});
