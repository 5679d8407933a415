import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Signer, signerKeyObject } from '../../../src/core/ed25519.js';
import { OacpError } from '../../../src/core/errors.js';
import { SecretValues } from '../../../src/core/secret-values.js';
import { AgentRegistry } from '../../../src/gateway/agents/index.js';
import { toHttpFailure } from '../../../src/gateway/http/errors.js';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { ContextVault } from '../../../src/gateway/vault/index.js';
import { openStore, type Store } from '../../../src/store/index.js';

const MASTER = new Uint8Array(randomBytes(32));

/** The spellings a tool or a server could echo an agent's private key in, derived here independently. */
function spellings(signer: Signer): string[] {
  const key = signerKeyObject(signer) as KeyObject;
  const d = key.export({ format: 'jwk' }).d ?? '';
  const seed = Buffer.from(d, 'base64url');
  const body = key.export({ format: 'pem', type: 'pkcs8' }).toString().split('\n')[1] ?? '';
  return [d, seed.toString('hex'), seed.toString('hex').toUpperCase(), seed.toString('base64'), body];
}

describe("the gateway's agent keys are secret values of the gateway that unseals them", () => {
  const stores: Store[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function registry(path: string, secrets: SecretValues): Promise<AgentRegistry> {
    const store = await openStore(path);
    stores.push(store);
    return new AgentRegistry({
      store,
      masterKey: MASTER,
      vault: new ContextVault({ store, masterKey: MASTER }),
      secrets,
    });
  }

  it('masks an agent key in a log line and an error answer once a restarted gateway unseals it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-agent-secrets-'));
    dirs.push(dir);
    const path = join(dir, 'gateway.db');
    const first = new SecretValues();
    const agent = await (await registry(path, first)).create({
      name: 'planner',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'planner',
        capabilities: {},
        quotas: {},
      },
      code: 'export default 1',
    });
    for (const form of spellings(await (await registry(path, new SecretValues())).signer(agent.id)))
      expect(first.mask(`x ${form} y`)).toBe('x [REDACTED] y');

    // A restarted gateway: nothing registered until the registry unseals the key.
    const secrets = new SecretValues();
    const restarted = await registry(path, secrets);
    expect(secrets.size).toBe(0);
    const forms = spellings(await restarted.signer(agent.id));
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line)).withSecrets(secrets);
    for (const form of forms) {
      const error = new OacpError('CONFIG_INVALID', `tools.x.token: expected a URL, got "${form}"`);
      log.error('tool failed', { error, stderr: `key=${form}` });
      expect(JSON.stringify(toHttpFailure(error, secrets))).not.toContain(form);
    }
    const written = lines.join('\n');
    for (const form of forms) expect(written).not.toContain(form);
    expect(written).toContain('[REDACTED]');
  });
});
