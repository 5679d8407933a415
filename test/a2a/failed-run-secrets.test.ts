import { describe, expect, it } from 'vitest';
import type { A2aAgent, A2aExecutor } from '../../src/a2a/agent.js';
import { type GatewayA2aParts, gatewayExecutor } from '../../src/a2a/mount.js';
import { SecretValues } from '../../src/core/secret-values.js';

/** A tool credential the gateway's vault handed the agent, shaped like no known key. */
const TOKEN = 'q7Zt2mVx9KpL4wRb8NcY';

/**
 * A failed run's error goes back to the A2A caller (a remote peer) in the task's status message.
 * The runtime here is a stand-in that fails the way a run quoting its credential does (the real
 * one needs a sandboxed agent; what is under test is only what the executor does with the text).
 */
function partsFailingWith(message: string, secrets?: SecretValues): GatewayA2aParts {
  return {
    runtime: {
      run: async () => {
        throw new Error(message);
      },
    },
    ...(secrets === undefined ? {} : { secrets }),
  } as unknown as GatewayA2aParts;
}

describe('A2A: a failed run answered to the caller', () => {
  it('carries no live secret value the gateway handed out', async () => {
    const secrets = new SecretValues();
    secrets.add([TOKEN]);
    const run = gatewayExecutor(partsFailingWith(`fetch failed: api refused key ${TOKEN}`, secrets));
    const execution = await run(
      { did: 'did:key:z6Mk' } as A2aAgent,
      {} as Parameters<A2aExecutor>[1],
      {} as Parameters<A2aExecutor>[2],
    );
    expect(execution).toMatchObject({ ok: false, error: 'fetch failed: api refused key [REDACTED]' });
    expect(JSON.stringify(execution)).not.toContain(TOKEN);
  });
});
