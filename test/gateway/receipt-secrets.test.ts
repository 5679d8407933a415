import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretValues } from '../../src/core/secret-values.js';
import { GatewayMetrics } from '../../src/gateway/observability/gateway-metrics.js';
import { ReceiptRecorder } from '../../src/gateway/runtime/receipt-recorder.js';
import { KeyStore } from '../../src/identity/keystore.js';
import type { ToolCallRecord } from '../../src/mcp/record.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { executionPredicate } from '../attest/fixtures.js';

/** A tool credential the vault handed out, shaped like no known key: only its value says it is one. */
const TOKEN = 'q7Zt2mVx9KpL4wRb8NcY';
const HEX = (c: string) => c.repeat(64);
const opened: OacpNode[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((node) => node.close()));
});

async function node(): Promise<OacpNode> {
  const home = join(mkdtempSync(join(tmpdir(), 'oacp-receipt-secrets-')), 'home');
  await KeyStore.init(home, { env: {} });
  writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/receipt-secrets' });
  const opening = await OacpNode.open(home, {});
  opened.push(opening);
  return opening;
}

function refusedCall(reason: string): ToolCallRecord {
  return {
    callId: 'c1',
    server: { name: 'gateway', command: 'native' },
    tier: 'standard',
    agent: 'client:test',
    tool: 'fetch',
    upstreamTool: 'fetch',
    toolDefinitionDigest: HEX('c'),
    policyDigest: HEX('d'),
    argumentsDigest: HEX('e'),
    decision: { effect: 'deny', reason },
    checks: { policy: { effect: 'deny', reason, policyIds: ['p'], policyDigest: HEX('d') } },
    outcome: 'denied',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
  } as ToolCallRecord;
}

async function statementAt(log: OacpNode, index: number): Promise<string> {
  const envelope = JSON.parse(Buffer.from(await log.log.entry(index)).toString('utf8')) as {
    payload: string;
  };
  return Buffer.from(envelope.payload, 'base64').toString('utf8');
}

describe('the gateway receipt recorder and the live secret values', () => {
  it('masks a handed-out value quoted in a tool call refusal and an agent run reason', async () => {
    const log = await node();
    const secrets = new SecretValues();
    secrets.add([TOKEN]);
    const recorder = new ReceiptRecorder(log, new GatewayMetrics('test'), undefined, secrets);
    const call = await recorder.toolCall(refusedCall(`upstream refused token ${TOKEN}`), 'a');
    const run = await recorder.execution(
      {
        ...executionPredicate(undefined),
        outcome: 'killed',
        reason: `tool failed: Bearer ${encodeURIComponent(TOKEN)}`,
      },
      'a',
    );
    const tool = await statementAt(log, call.index);
    const execution = await statementAt(log, run.index);
    expect(tool).toContain('upstream refused token [REDACTED]');
    expect(execution).toContain('tool failed: Bearer [REDACTED]');
    expect(tool + execution).not.toContain(TOKEN);
  });
});
