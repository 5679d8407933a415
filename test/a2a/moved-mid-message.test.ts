import { describe, expect, it } from 'vitest';
import type { A2aAgent, A2aExecutor } from '../../src/a2a/agent.js';
import { type GatewayA2aParts, gatewayExecutor } from '../../src/a2a/mount.js';
import { OacpError } from '../../src/core/errors.js';

const AGENT = { did: 'did:key:z6Mk' } as A2aAgent;
const ENVELOPE = { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [] };

/**
 * In a cluster, a checked message whose agent's sandbox moved to another node just before the run
 * (a migration's hand-over on the old owner) cannot be handed on: its nonce is spent here. The
 * runtime and the cluster's wait are stand-ins that behave as the real ones do at that moment
 * (test/cluster/a2a-migration.test.ts races real migrations; this pins each outcome).
 */
function moving(awaitRunning: () => Promise<void>) {
  const runs: string[] = [];
  const parts = {
    runtime: {
      run: async () => {
        runs.push('run');
        if (runs.length === 1)
          throw new OacpError('RUNTIME_AGENT_NOT_RUNNING', 'agent counter is not running here');
        return { value: 2, logs: [], receipt: { index: 7 } };
      },
    },
    log: { entry: async () => new TextEncoder().encode(JSON.stringify(ENVELOPE)) },
    awaitRunning,
  } as unknown as GatewayA2aParts;
  const execute = () =>
    gatewayExecutor(parts)(AGENT, {} as Parameters<A2aExecutor>[1], {} as Parameters<A2aExecutor>[2]);
  return { runs, execute };
}

describe('A2A: a message whose agent moved away between its checks and its run', () => {
  it('fails its task saying it did not run when the agent now runs elsewhere, and never runs it', async () => {
    const { runs, execute } = moving(async () => {
      throw new OacpError(
        'CLUSTER_NOT_OWNER',
        'agent did:key:z6Mk moved to another node while this message waited on gw-0; the message did not run; send it again',
      );
    });
    const execution = await execute();
    expect(execution).toMatchObject({
      ok: false,
      error: expect.stringMatching(/did not run; send it again/),
    });
    // Asked once, refused by the runtime: nothing ran here.
    expect(runs).toEqual(['run']);
  });

  it('runs it once when the agent is back here within the wait', async () => {
    const { runs, execute } = moving(async () => undefined);
    const execution = await execute();
    expect(execution).toMatchObject({ ok: true, output: { value: 2 }, receipt: { index: 7 } });
    expect(runs).toEqual(['run', 'run']);
  });
});
