import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import { type CompatHome, compatHome, runNpmForm } from './npm-forms-harness.js';
import { interfaceAddress, type RemoteUpstream, startRemoteUpstream } from './remote-upstream.js';

/**
 * mcp-remote, the stdio client most configurations use to reach a remote
 * MCP server, with server-everything's Streamable HTTP transport beside it
 * as the remote. It must list the remote's tools and relay one call through
 * the sandbox's egress proxy: started directly in both tiers, and as pasted
 * from its README (`npx -y mcp-remote URL`, from an empty npm cache), as
 * root and as uid 1000.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : [];
const host = interfaceAddress();

describe.skipIf(!binaryBuilt() || identities.length === 0 || host === undefined)(
  'compat: mcp-remote to a Streamable HTTP server',
  () => {
    let upstream: RemoteUpstream;
    const homes: CompatHome[] = [];
    beforeAll(async () => {
      upstream = await startRemoteUpstream(host ?? '');
    }, 60_000);
    afterAll(() => {
      upstream?.close();
      for (const home of homes) home.dispose();
    });

    const relayed = (outcome: { tools: readonly string[]; text: string; stderr: string }) => {
      expect(outcome.tools).toContain('get-sum');
      expect(outcome.text).toMatch(/Echo: hello through mcp-remote/);
      expect(outcome.stderr).not.toMatch(/killed by the Airlock/);
    };

    for (const tier of ['hardened', 'gvisor'] as const)
      for (const identity of identities)
        it(`${tier} as ${identity}: tools/list and echo relayed to the remote`, async () => {
          relayed(await runCompat(upstream.client, tier, identity));
        }, 120_000);

    for (const identity of identities)
      it(`npx -y mcp-remote as ${identity}: tools/list and echo relayed to the remote`, async () => {
        const home = compatHome(identity);
        homes.push(home);
        const outcome = await runNpmForm(upstream.client, 'npx -y', home);
        relayed(outcome);
        expect(outcome.stderr).toMatch(/MCP bridge for /);
      }, 240_000);
  },
);
