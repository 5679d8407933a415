import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch-dirs.js';
import { loadMasterKey, parseMasterKeyEnv } from './master-key.js';

const KEY = Buffer.alloc(32, 0xab);

describe('master key', () => {
  it('accepts 64 hex digits and standard base64 of 32 bytes', () => {
    expect(Buffer.from(parseMasterKeyEnv(KEY.toString('hex')))).toEqual(KEY);
    expect(Buffer.from(parseMasterKeyEnv(KEY.toString('hex').toUpperCase()))).toEqual(KEY);
    expect(Buffer.from(parseMasterKeyEnv(KEY.toString('base64')))).toEqual(KEY);
  });

  const bad: Array<[string, string]> = [
    ['too short hex', 'ab'.repeat(31)],
    ['too long hex', 'ab'.repeat(33)],
    ['base64 of 31 bytes', Buffer.alloc(31, 1).toString('base64')],
    ['base64url', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['non-canonical base64 trailing bits', `${KEY.toString('base64').slice(0, 42)}r=`],
    ['a passphrase', 'correct horse battery staple, surely secret'],
  ];
  it.each(bad)('refuses %s, naming the variable and form but not the value', (_what, value) => {
    let message = '';
    try {
      parseMasterKeyEnv(value);
    } catch (error) {
      expect(error).toMatchObject({ code: 'IDENTITY_MASTER_KEY_INVALID' });
      message = (error as Error).message;
    }
    expect(message).toContain('OACP_MASTER_KEY');
    expect(message).toMatch(/64 hex digits/);
    expect(message).not.toContain(value);
  });

  it('prefers OACP_MASTER_KEY over the file', () => {
    const dir = scratchDir('oacp-mk-');
    writeFileSync(join(dir, 'master.key'), Buffer.alloc(32, 1), { mode: 0o600 });
    const key = loadMasterKey(join(dir, 'master.key'), { OACP_MASTER_KEY: KEY.toString('hex') });
    expect(key.source).toBe('env');
    expect(Buffer.from(key.bytes)).toEqual(KEY);
  });

  it('reads the file when the variable is unset', () => {
    const dir = scratchDir('oacp-mk-');
    writeFileSync(join(dir, 'master.key'), KEY, { mode: 0o600 });
    const key = loadMasterKey(join(dir, 'master.key'), {});
    expect(key.source).toBe('file');
    expect(Buffer.from(key.bytes)).toEqual(KEY);
  });

  it('tells the user to run oacp init or set the variable when there is no key', () => {
    const dir = scratchDir('oacp-mk-');
    expect(() => loadMasterKey(join(dir, 'master.key'), {})).toThrow(
      expect.objectContaining({
        code: 'IDENTITY_MASTER_KEY_MISSING',
        message: expect.stringMatching(/oacp init.*OACP_MASTER_KEY/),
      }),
    );
  });

  it('refuses a key file of the wrong size', () => {
    const dir = scratchDir('oacp-mk-');
    writeFileSync(join(dir, 'master.key'), Buffer.alloc(16), { mode: 0o600 });
    expect(() => loadMasterKey(join(dir, 'master.key'), {})).toThrow(
      expect.objectContaining({ code: 'IDENTITY_MASTER_KEY_INVALID' }),
    );
  });

  it.skipIf(process.platform === 'win32')('refuses a key file other users can read', () => {
    const dir = scratchDir('oacp-mk-');
    writeFileSync(join(dir, 'master.key'), KEY);
    chmodSync(join(dir, 'master.key'), 0o644);
    expect(() => loadMasterKey(join(dir, 'master.key'), {})).toThrow(
      expect.objectContaining({ code: 'IDENTITY_INSECURE_PERMISSIONS' }),
    );
  });
});
