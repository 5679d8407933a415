import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { A2aAgent, A2aExecutor } from '../../src/a2a/agent.js';
import type { A2aTaskInput } from '../../src/a2a/extension.js';
import { A2A_MESSAGE_TOOL, type InboundReceipts, unrunRefusalRecord } from '../../src/a2a/inbound-calls.js';
import { type GatewayA2aParts, gatewayExecutor } from '../../src/a2a/mount.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { OacpError } from '../../src/core/errors.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { GatewayMetrics } from '../../src/gateway/observability/gateway-metrics.js';
import { ReceiptRecorder } from '../../src/gateway/runtime/receipt-recorder.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { oacpBinary } from '../cli/harness.js';
import { freshHome } from '../gateway/service/node-home.js';
import type { Predicate } from './harness.js';

const agentSigner = keySigner(generateEd25519().privateKey);
const AGENT: A2aAgent = {
  did: didKeyFromPublicKey(agentSigner.publicKey),
  name: 'counter',
  description: 'test agent',
  skills: [],
  signer: agentSigner,
  tier: 'standard',
  manifestDigest: jcsDigest({ name: 'counter' }),
};
const SENDER = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);
/** The input of a message whose signature the gate verified (its nonce is spent on this node). */
const INPUT: A2aTaskInput = { messageId: 'm-1', text: 'count', data: [{ n: 1 }], from: SENDER };
/** As the cluster's wait refuses when the agent runs on another node now; its words may name an etcd address. */
const MOVED = () =>
  new OacpError(
    'CLUSTER_NOT_OWNER',
    `agent ${AGENT.did} moved to another node while this message waited on gw-0 (etcd at http://10.9.9.9:2379); the message did not run; send it again`,
  );

/**
 * In a cluster, a checked message whose agent's sandbox moved to another node just before the run
 * (a migration's hand-over on the old owner) cannot be handed on: its nonce is spent here. The
 * runtime and the cluster's wait are stand-ins that behave as the real ones do at that moment
 * (test/cluster/a2a-migration.test.ts races real migrations; this pins each outcome); the log and
 * its receipt recorder are the node's own.
 */
describe('A2A: a message whose agent moved away between its checks and its run', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let node: OacpNode;
  let receipts: InboundReceipts;
  beforeEach(async () => {
    home = await freshHome('oacp-a2a-moved-');
    node = await OacpNode.open(home.home, home.env);
    const recorder = new ReceiptRecorder(node, new GatewayMetrics('test'));
    receipts = {
      reserve: () => recorder.reserve(),
      record: (record) => recorder.toolCall(record, record.agent),
    };
  });
  afterEach(async () => {
    await node.close();
    home.remove();
  });

  function moving(awaitRunning: () => Promise<void>) {
    const runs: string[] = [];
    const parts = {
      runtime: {
        run: async () => {
          runs.push('run');
          if (runs.length === 1)
            throw new OacpError('RUNTIME_AGENT_NOT_RUNNING', 'agent counter is not running here');
          // A run's execution receipt as the runtime logs it (any entry of the log stands in).
          const receipt = await receipts.record(
            unrunRefusalRecord(AGENT, 'run-stand-in', INPUT, 'stand-in for an execution receipt', new Date()),
          );
          return { value: 2, logs: [], receipt };
        },
      },
      log: node.log,
      receipts,
      awaitRunning,
    } as unknown as GatewayA2aParts;
    const execute = () => gatewayExecutor(parts)(AGENT, INPUT, {} as Parameters<A2aExecutor>[2]);
    return { runs, execute };
  }

  const predicateAt = async (index: number): Promise<Predicate & { agent: { did?: string } }> => {
    const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8')) as {
      payload: string;
    };
    return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate;
  };

  it('fails its task saying it did not run when the agent now runs elsewhere, never runs it, and leaves one receipt of the refusal that oacp verify accepts', async () => {
    const { runs, execute } = moving(async () => {
      throw MOVED();
    });
    const execution = await execute();
    expect(execution).toMatchObject({
      ok: false,
      error: expect.stringMatching(/\(CLUSTER_NOT_OWNER\); the message did not run; send it again$/),
      receipt: { index: 0 },
    });
    // The caller and the public receipt are told what happened, not where the cluster keeps etcd.
    expect(execution.ok ? '' : execution.error).not.toContain('10.9.9.9');
    // Asked once, refused by the runtime: nothing ran here.
    expect(runs).toEqual(['run']);
    // Received, verified, refused: one receipt, under the verified sender, saying why.
    expect(node.log.size).toBe(1);
    const predicate = await predicateAt(0);
    expect(predicate).toMatchObject({
      agent: { did: SENDER },
      tool: { name: A2A_MESSAGE_TOOL },
      outcome: 'denied',
      argumentsDigest: jcsDigest({ messageId: INPUT.messageId, text: INPUT.text, data: INPUT.data }),
      policy: {
        effect: 'deny',
        policyId: 'oacp/placement',
        reason: expect.stringMatching(/the message did not run; send it again$/),
      },
    });
    expect(predicate.policy.reason).not.toContain('10.9.9.9');

    // Offline, from public keys alone, as a third party checks it.
    await node.close();
    const keys = join(home.home, 'public');
    const out = join(home.home, 'export');
    expect(oacpBinary(['--home', home.home, 'keys', 'export', '--out', keys], home.env).code).toBe(0);
    expect(oacpBinary(['--home', home.home, 'log', 'export', '0', '--out', out], home.env).code).toBe(0);
    const receipt = join(out, 'receipt.json');
    const verified = oacpBinary([
      'verify',
      receipt,
      ...['--proof', `${receipt}.tlog-proof`, '--log-key', join(keys, 'log.vkey')],
      ...['--signer-key', join(keys, 'signer.pem')],
    ]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    node = await OacpNode.open(home.home, home.env);
  });

  it('runs it once when the agent is back here within the wait, with no refusal receipt', async () => {
    const { runs, execute } = moving(async () => undefined);
    const execution = await execute();
    expect(execution).toMatchObject({ ok: true, output: { value: 2 }, receipt: { index: 0 } });
    expect(runs).toEqual(['run', 'run']);
    // Only the run's own receipt (the stand-in) is in the log.
    expect(node.log.size).toBe(1);
    expect((await predicateAt(0)).policy.reason).toBe('stand-in for an execution receipt');
  });
});
