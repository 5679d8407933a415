import type { KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signerKeyObject } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { SecretValues } from '../core/secret-values.js';
import { toHttpFailure } from '../gateway/http/errors.js';
import { Logger } from '../gateway/observability/logger.js';
import { KeyStore } from '../identity/keystore.js';
import { defaultOrigin, writeNodeConfig } from './node-config.js';
import { OacpNode } from './oacp-node.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'oacp-home-')), 'home');

/** The spellings a tool, a config error or a server could echo a private key in, derived here independently. */
function spellings(key: KeyObject): string[] {
  const d = key.export({ format: 'jwk' }).d ?? '';
  const seed = Buffer.from(d, 'base64url');
  const pem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const body = pem.split('\n')[1] ?? '';
  return [d, seed.toString('hex'), seed.toString('hex').toUpperCase(), seed.toString('base64'), body];
}

function keyOf(signer: Parameters<typeof signerKeyObject>[0]): KeyObject {
  const key = signerKeyObject(signer);
  if (key === undefined) throw new Error('no key object');
  return key;
}

describe('private keys are secret values of the process that loads them', () => {
  it("masks the Airlock's and the log's keys in every spelling in a log line and an error answer", async () => {
    const home = fresh();
    const made = await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: defaultOrigin(made.publicKeys().log.raw) });
    const secrets = new SecretValues();
    const node = await OacpNode.open(home, {}, { secrets });
    try {
      const lines: string[] = [];
      const log = new Logger((line) => lines.push(line)).withSecrets(secrets);
      const forms = [
        ...spellings(keyOf(node.keys.airlockSigner())),
        ...spellings(keyOf(node.keys.logSigner())),
      ];
      expect(forms.every((form) => form.length >= 32)).toBe(true);
      for (const form of forms) {
        // A config error that quotes the value it could not parse, as a tool or server would echo it.
        const error = new OacpError('CONFIG_INVALID', `tools.x.token: expected a URL, got "${form}"`);
        log.error('tool failed', {
          error,
          stderr: `key=${form}`,
          jwk: JSON.stringify({ kty: 'OKP', d: form }),
        });
        const answer = JSON.stringify(toHttpFailure(error, secrets));
        expect(answer).not.toContain(form);
      }
      const written = lines.join('\n');
      for (const form of forms) expect(written).not.toContain(form);
      expect(written).toContain('[REDACTED]');
    } finally {
      await node.close();
    }
  });

  it("registers an agent's key when the store loads it, and every key `init` makes", async () => {
    const home = fresh();
    const atInit = new SecretValues();
    const made = await KeyStore.init(home, { env: {}, secrets: atInit });
    made.createAgent('alice');
    for (const form of [
      ...spellings(keyOf(made.airlockSigner())),
      ...spellings(keyOf(made.agent('alice').signer)),
    ])
      expect(atInit.mask(`x ${form} y`)).toBe('x [REDACTED] y');

    const secrets = new SecretValues();
    const store = KeyStore.open(home, {}, { secrets });
    const before = secrets.size;
    const alice = store.agent('alice');
    expect(secrets.size).toBeGreaterThan(before);
    for (const form of spellings(keyOf(alice.signer))) expect(secrets.mask(form)).toBe('[REDACTED]');
  });

  it("keeps the node's own keys masked however many other values come after them (pinned)", async () => {
    const home = fresh();
    const made = await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: defaultOrigin(made.publicKeys().log.raw) });
    const secrets = new SecretValues();
    const node = await OacpNode.open(home, {}, { secrets });
    try {
      // A vault or an agent registry far past the bounded tier's size.
      secrets.add(Array.from({ length: 10_000 }, (_, i) => `vault-value-number-${i}`));
      const forms = [
        ...spellings(keyOf(node.keys.airlockSigner())),
        ...spellings(keyOf(node.keys.logSigner())),
        ...node.keys.masterKeyTexts(),
      ];
      for (const form of forms) expect(secrets.mask(`x ${form} y`)).toBe('x [REDACTED] y');
    } finally {
      await node.close();
    }
  });
});
