import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch-dirs.js';
import { parseEnvelopeBytes } from '../attest/receipt.js';
import { verifyReceiptEnvelope } from '../attest/verify-receipt.js';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { SecretValues } from '../core/secret-values.js';
import { TransparencyLog } from '../log/transparency-log.js';
import {
  AttestedReceipts,
  type AttestedReceiptsOptions,
  logReceiptWriter,
  toolCallPredicate,
} from './receipts.js';
import type { ToolCallRecord } from './record.js';

const HEX = (c: string) => c.repeat(64);

function record(overrides: Partial<ToolCallRecord> = {}): ToolCallRecord {
  return {
    callId: 'c1',
    server: {
      name: 'files',
      command: '/usr/bin/node',
      args: ['/srv/server.js'],
      executable: { path: '/usr/bin/node', sha256: HEX('a') },
      script: { path: '/srv/server.js', sha256: HEX('b') },
    },
    tier: 'hardened',
    agent: 'client:claude',
    client: { name: 'claude', version: '1' },
    tool: 'read_file',
    upstreamTool: 'read_file',
    toolDefinitionDigest: HEX('c'),
    policyDigest: HEX('d'),
    argumentsDigest: HEX('e'),
    decision: { effect: 'allow', reason: 'permitted by policy read' },
    checks: {
      policy: {
        effect: 'allow',
        reason: 'permitted by policy read',
        policyIds: ['read'],
        policyDigest: HEX('d'),
      },
    },
    outcome: 'result',
    resultDigest: HEX('f'),
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 12.5,
    ...overrides,
  };
}

describe('toolCallPredicate', () => {
  it('maps an allowed call', () => {
    expect(toolCallPredicate(record())).toEqual({
      agent: { clientId: 'client:claude' },
      server: {
        name: 'files',
        command: ['/usr/bin/node', '/srv/server.js'],
        files: [
          { path: '/usr/bin/node', sha256: HEX('a') },
          { path: '/srv/server.js', sha256: HEX('b') },
        ],
      },
      tool: { name: 'read_file', definitionDigest: HEX('c') },
      argumentsDigest: HEX('e'),
      resultDigest: HEX('f'),
      outcome: 'result',
      policy: {
        effect: 'allow',
        reason: 'permitted by policy read',
        policyId: 'read',
        policyIds: ['read'],
        policyDigest: HEX('d'),
      },
      tier: 'hardened',
      usage: { wallMs: 0, cpuMs: 0, memoryPeakBytes: 0, egressRequests: 0, egressDenied: 0, outputBytes: 0 },
      startedAt: '2025-01-01T00:00:00.000Z',
      finishedAt: '2025-01-01T00:00:00.012Z',
      durationMs: 12.5,
    });
  });

  it('names the gate that refused and drops any result', () => {
    const denied = toolCallPredicate(
      record({
        decision: { effect: 'deny', reason: 'quota' },
        checks: {
          policy: { effect: 'allow', reason: 'ok', policyIds: ['p'], policyDigest: HEX('d') },
          quota: { effect: 'deny', reason: 'quota' },
        },
        outcome: 'denied',
      }),
    );
    expect(denied.policy).toMatchObject({ effect: 'deny', policyId: 'oacp/quota' });
    expect(denied.policy).not.toHaveProperty('policyIds');
    expect(denied).not.toHaveProperty('resultDigest');
  });

  it('masks the live secret values (what the servers were handed) in the reasons it keeps', () => {
    const token = 'q7Zt2mVx9KpL4wRb8NcY';
    const secrets = new SecretValues();
    secrets.add([token]);
    const written: unknown[] = [];
    const receipts = new AttestedReceipts({
      writer: { record: async () => ({ index: 0 }) } as unknown as AttestedReceiptsOptions['writer'],
      origin: 'test.oacp.invalid/receipts',
      secrets,
      journal: () => ({ write: (_id, statement) => written.push(statement), done: () => undefined }),
    });
    receipts.intend(
      record({
        decision: { effect: 'deny', reason: `upstream said: bad token ${token}` },
        checks: { policy: { effect: 'deny', reason: 'no', policyIds: ['p'], policyDigest: HEX('d') } },
        outcome: 'denied',
      }),
    );
    expect(JSON.stringify(written)).toContain('upstream said: bad token [REDACTED]');
    expect(JSON.stringify(written)).not.toContain(token);
  });

  it('records a remote server as the light tier (no Airlock isolation)', () => {
    expect(toolCallPredicate(record({ tier: 'remote' })).tier).toBe('light');
  });
});

describe('logReceiptWriter', () => {
  async function log() {
    return TransparencyLog.open(scratchDir('oacp-rw-'), {
      origin: 'test.oacp.invalid/rw',
      signer: keySigner(generateEd25519().privateKey),
    });
  }

  it('queued mode answers with the indexes the log wrote the receipts at', async () => {
    const transparency = await log();
    const airlock = keySigner(generateEd25519().privateKey);
    const writer = logReceiptWriter(transparency, airlock, { ack: 'queued' });
    const receipts = new AttestedReceipts({ writer, origin: 'test.oacp.invalid/rw' });
    const refs = await Promise.all([1, 2, 3].map(() => receipts.record(record())));
    expect(refs.map((ref) => ref.index)).toEqual([0, 1, 2]);
    await writer.settled();
    expect(transparency.size).toBe(3);
    const verified = verifyReceiptEnvelope(parseEnvelopeBytes(await transparency.entry(2)), {
      airlockKeys: [airlock.publicKey],
    });
    expect(verified.ok).toBe(true);
    await transparency.close();
  });

  it('queued mode fails closed once a write fails', async () => {
    const transparency = await log();
    const writer = logReceiptWriter(transparency, keySigner(generateEd25519().privateKey), { ack: 'queued' });
    const receipts = new AttestedReceipts({ writer, origin: 'x' });
    await transparency.close();
    await expect(receipts.record(record())).rejects.toThrow(/closed/);
    await expect(writer.settled()).rejects.toThrow(/closed/);
    await expect(receipts.record(record())).rejects.toThrow(/closed/);
  });

  it('attack: after an append fails (disk full), reserve() refuses every call until an append succeeds again', async () => {
    const transparency = await log();
    let failNext = true;
    const flaky = {
      get size() {
        return transparency.size;
      },
      append: (entry: Uint8Array) => {
        if (!failNext) return transparency.append(entry);
        failNext = false;
        return Promise.reject(new Error('ENOSPC: no space left on device'));
      },
    };
    const writer = logReceiptWriter(flaky, keySigner(generateEd25519().privateKey));
    const receipts = new AttestedReceipts({ writer, origin: 'x' });
    expect(() => receipts.reserve()).not.toThrow();
    await expect(receipts.record(record())).rejects.toThrow(/ENOSPC/);
    expect(() => receipts.reserve()).toThrow(
      /cannot append: the last receipt could not be appended \(ENOSPC/,
    );
    await receipts.record(record());
    expect(() => receipts.reserve()).not.toThrow();
    await transparency.close();
  });

  it('reserve() refuses while the log filesystem has less free space than a receipt may need', async () => {
    const dir = scratchDir('oacp-rw-');
    const transparency = await log();
    const writer = logReceiptWriter(transparency, keySigner(generateEd25519().privateKey), {
      dir,
      minFreeBytes: Number.MAX_SAFE_INTEGER,
    });
    expect(() => writer.reserve?.()).toThrow(/filesystem has \d+ bytes free/);
    const roomy = logReceiptWriter(transparency, keySigner(generateEd25519().privateKey), {
      dir,
      minFreeBytes: 1,
    });
    expect(() => roomy.reserve?.()).not.toThrow();
    await transparency.close();
  });
});
