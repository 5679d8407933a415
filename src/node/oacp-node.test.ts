import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toolCallPredicate } from '../../test/attest/fixtures.js';
import { scratchDir } from '../../test/scratch-dirs.js';
import { buildStatement, envelopeBytes, parseEnvelopeBytes, signReceipt } from '../attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../attest/tool-call.js';
import { verifyReceiptEnvelope } from '../attest/verify-receipt.js';
import { REDACTED } from '../core/redact.js';
import { SecretValues } from '../core/secret-values.js';
import { KeyStore } from '../identity/keystore.js';
import { defaultOrigin, writeNodeConfig } from './node-config.js';
import { OacpNode } from './oacp-node.js';

const opened: OacpNode[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((node) => node.close()));
});

async function home(): Promise<{ home: string; store: KeyStore }> {
  const dir = join(scratchDir('oacp-node-'), 'home');
  const store = await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: defaultOrigin(store.publicKeys().log.raw) });
  return { home: dir, store };
}

async function open(dir: string, signingWorkers?: number): Promise<OacpNode> {
  const node = await OacpNode.open(dir, {}, signingWorkers === undefined ? {} : { signingWorkers });
  opened.push(node);
  return node;
}

describe('OacpNode.record', () => {
  it.each([0, 1, 2])(
    'with %s signing worker(s): the same receipts, durable in the log, that verify',
    async (workers) => {
      const { home: dir, store } = await home();
      const agent = store.createAgent('writer');
      const node = await open(dir, workers);
      expect(node.signingWorkers).toBe(workers);
      const anonymous = buildStatement({
        predicateType: TOOL_CALL_PREDICATE_TYPE,
        predicate: toolCallPredicate(undefined),
      });
      const byAgent = buildStatement({
        predicateType: TOOL_CALL_PREDICATE_TYPE,
        predicate: toolCallPredicate(agent.signer),
      });
      const recorded = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          i % 2 === 0 ? node.record(anonymous) : node.record(byAgent, agent.signer),
        ),
      );
      const airlockKeys = [store.airlockSigner().publicKey];
      for (const [i, receipt] of recorded.entries()) {
        // Ed25519 is deterministic, so pooled signing must give the in-thread envelope exactly.
        const expected =
          i % 2 === 0
            ? signReceipt(anonymous, { airlock: store.airlockSigner() })
            : signReceipt(byAgent, { airlock: store.airlockSigner(), agent: agent.signer });
        expect(receipt.envelope).toEqual(expected);
        expect(receipt.bytes).toEqual(envelopeBytes(expected));
        expect(Buffer.from(await node.log.entry(receipt.index))).toEqual(receipt.bytes);
        const verified = verifyReceiptEnvelope(parseEnvelopeBytes(receipt.bytes), { airlockKeys });
        expect(verified.ok).toBe(true);
        expect(verified.trustLevel).toBe(i % 2 === 0 ? 'Basic' : 'Standard');
      }
      expect(new Set(recorded.map((receipt) => receipt.index)).size).toBe(40);
    },
  );

  it('keeps every refusal of signReceipt when signing on workers', async () => {
    const { home: dir, store } = await home();
    const node = await open(dir, 1);
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(undefined),
    });
    await expect(node.record(statement, store.createAgent('someone').signer)).rejects.toMatchObject({
      code: 'ATTEST_SIGNER_MISMATCH',
    });
    const altered = { ...statement, subject: [{ name: 'arguments', digest: { sha256: 'f'.repeat(64) } }] };
    await expect(node.record(altered)).rejects.toMatchObject({ code: 'ATTEST_STATEMENT_INVALID' });
    expect(node.log.size).toBe(0);
  });

  it('lets records under way finish on close, stops its workers, and refuses records after', async () => {
    const { home: dir } = await home();
    const node = await open(dir, 1);
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(undefined),
    });
    const underWay = Array.from({ length: 30 }, () => node.record(statement));
    await node.close();
    expect((await Promise.all(underWay)).map((receipt) => receipt.index).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    expect(node.signingWorkers).toBe(0);
    await expect(node.record(statement)).rejects.toMatchObject({ code: 'NODE_SIGNING_POOL_CLOSED' });
  });

  it.each([-1, 1.5, 65])('refuses %s signing workers before opening anything', async (signingWorkers) => {
    const { home: dir } = await home();
    await expect(OacpNode.open(dir, {}, { signingWorkers })).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_INVALID',
    });
    // The log was never locked: it opens now.
    await open(dir, 0);
  });
});

describe('OacpNode.open with the process secret values', () => {
  it('registers the master key in every text form, so no log line or error can print it', async () => {
    const { home: dir } = await home();
    const secrets = new SecretValues();
    const node = await OacpNode.open(dir, {}, { secrets });
    opened.push(node);
    const bytes = readFileSync(join(dir, 'master.key'));
    for (const form of [
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
      bytes.toString('base64'),
      bytes.toString('base64url'),
    ]) {
      expect(secrets.mask(`OACP_MASTER_KEY=${form}`)).toBe(`OACP_MASTER_KEY=${REDACTED}`);
    }
  });
});
