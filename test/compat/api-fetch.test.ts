import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import { interfaceAddress } from './remote-upstream.js';
import { type CompatServer, SWEPT_SERVERS } from './servers.js';

/**
 * Issue 9, compat: most API servers call their service with Node's built-in fetch, which ignores
 * HTTP(S)_PROXY, so with `--allow-network` granted they still answered `fetch failed`.
 * @hubspot/mcp-server (global fetch, base URL from BASE_URL_OVERRIDE) pointed at a stand-in for
 * HubSpot's API on this host's interface address, allowlisted by IP literal: its
 * hubspot-get-user-details call must reach the stand-in through the sandbox's egress proxy and
 * return what it answered, in both confined tiers, as root and as uid 1000.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : [];
const host = interfaceAddress();
const hubspot = SWEPT_SERVERS.find((server) => server.name === 'hubspot');

/** What the stand-in answers, by path; anything else is a 404. */
const ANSWERS: Record<string, unknown> = {
  'POST /oauth/v2/private-apps/get/access-token-info': { userId: 4242, hubId: 77, scopes: ['oacp.read'] },
  'GET /account-info/v3/details': { portalId: 77, accountType: 'STANDARD' },
  'GET /crm/v3/owners/4242?idProperty=userId&archived=false': { email: 'owner@example.test' },
};

describe.skipIf(!binaryBuilt() || identities.length === 0 || host === undefined || hubspot === undefined)(
  "compat: an API server using Node's fetch reaches its allowlisted API",
  () => {
    let api: Server;
    const seen: string[] = [];
    const authorizations = new Set<string | undefined>();
    beforeAll(async () => {
      api = createServer((req: IncomingMessage, res) => {
        const key = `${req.method} ${req.url}`;
        seen.push(key);
        authorizations.add(req.headers.authorization);
        const answer = ANSWERS[key];
        res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer ?? { message: 'not found' }));
      });
      await new Promise<void>((resolve) => api.listen(0, host, resolve));
    });
    afterAll(() => new Promise<void>((resolve) => api.close(() => resolve())));

    const pointed = (): CompatServer => {
      const base = `${host}:${(api.address() as AddressInfo).port}`;
      return {
        ...(hubspot as CompatServer),
        env: { ...hubspot?.env, BASE_URL_OVERRIDE: `http://${base}` },
        flags: ['--allow-network', base],
        answer: /owner@example\.test/,
      };
    };

    for (const tier of ['hardened', 'gvisor'] as const)
      for (const identity of identities)
        it(`${tier} as ${identity}: hubspot-get-user-details answered by the allowlisted API`, async () => {
          const before = seen.length;
          const outcome = await runCompat(pointed(), tier, identity);
          expect(outcome.text).toContain('owner@example.test');
          expect(outcome.text).toMatch(/portalId\W+77/);
          expect(outcome.text).not.toMatch(/fetch failed/);
          expect(seen.slice(before).sort()).toEqual(Object.keys(ANSWERS).sort());
          expect([...authorizations]).toEqual(['Bearer dummy-token']);
        }, 120_000);
  },
);
