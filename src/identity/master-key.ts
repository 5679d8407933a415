import { readFileSync, statSync } from 'node:fs';
import { OacpError } from '../core/errors.js';
import type { IdentityErrorCode } from './errors.js';

export const MASTER_KEY_ENV = 'OACP_MASTER_KEY';
export const MASTER_KEY_BYTES = 32;

type Env = Readonly<Record<string, string | undefined>>;

/** Where a master key came from; reported to users, never the key itself. */
export type MasterKeySource = 'env' | 'file';

export interface MasterKey {
  readonly bytes: Uint8Array;
  readonly source: MasterKeySource;
}

/**
 * Decodes OACP_MASTER_KEY: 64 hex digits or standard base64 of exactly 32 bytes.
 * The value is never echoed: a typo in a secret is still mostly the secret.
 */
export function parseMasterKeyEnv(value: string): Uint8Array {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    // Round-trip so non-canonical trailing bits cannot give two spellings of one key.
    if (bytes.length === MASTER_KEY_BYTES && bytes.toString('base64') === text) return new Uint8Array(bytes);
  }
  throw new OacpError<IdentityErrorCode>(
    'IDENTITY_MASTER_KEY_INVALID',
    `${MASTER_KEY_ENV} is set but is not a 32-byte key: expected 64 hex digits or 44 characters of standard base64 (value not shown)`,
  );
}

/**
 * The text forms a master key is written in (the spellings OACP_MASTER_KEY
 * accepts, and the URL-safe base64 a copy may use): for SecretValues, so none
 * is printed or logged by a process holding the key.
 */
export function masterKeyTexts(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes);
  const hex = buffer.toString('hex');
  return [hex, hex.toUpperCase(), buffer.toString('base64'), buffer.toString('base64url')];
}

/**
 * The master key, from OACP_MASTER_KEY when set (it wins over the file, so a
 * deployment can keep the key out of the home entirely) or from `master.key`.
 */
export function loadMasterKey(masterKeyPath: string, env: Env): MasterKey {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { bytes: parseMasterKeyEnv(fromEnv), source: 'env' };

  let bytes: Buffer;
  try {
    assertOwnerOnly(masterKeyPath);
    bytes = readFileSync(masterKeyPath);
  } catch (error) {
    if (error instanceof OacpError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_MASTER_KEY_MISSING',
        `no master key: ${masterKeyPath} does not exist and ${MASTER_KEY_ENV} is not set; run \`oacp init\` or set ${MASTER_KEY_ENV}`,
      );
    }
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_MASTER_KEY_MISSING',
      `cannot read the master key at ${masterKeyPath}: ${(error as Error).message}`,
    );
  }
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_MASTER_KEY_INVALID',
      `${masterKeyPath} must hold exactly ${MASTER_KEY_BYTES} bytes, it holds ${bytes.length}`,
    );
  }
  return { bytes: new Uint8Array(bytes), source: 'file' };
}

/** Refuses a key file others can read, as ssh does: a readable master key unlocks every identity. */
function assertOwnerOnly(path: string): void {
  if (process.platform === 'win32') return;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_INSECURE_PERMISSIONS',
      `refusing to use ${path}: its mode is ${mode.toString(8).padStart(4, '0')}, other users can read it; run chmod 600 on it`,
    );
  }
}
