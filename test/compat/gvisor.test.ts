import { describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import {
  COMPAT_SERVERS,
  POPULAR_SERVERS,
  ROUND22_SERVERS,
  SWEPT_SERVERS,
  WIDENED_SERVERS,
} from './servers.js';

/**
 * The same servers in the gVisor tier. A gVisor start of a Node server
 * costs seconds of CPU under ptrace, so by default each server runs once,
 * root and regular user alternating down the list (both identities and
 * every server are still covered); OACP_COMPAT_FULL=1 runs the whole
 * matrix. As root the grant is a root-owned 0700 directory: see
 * hardened.test.ts.
 */
const root = process.getuid?.() === 0;
const full = process.env.OACP_COMPAT_FULL === '1';
const identities: Identity[] = ['root', 'user'];

describe.skipIf(!binaryBuilt() || !root)('compat: npm MCP servers, gvisor tier', () => {
  [...COMPAT_SERVERS, ...SWEPT_SERVERS, ...WIDENED_SERVERS, ...POPULAR_SERVERS, ...ROUND22_SERVERS].forEach(
    (server, index) => {
      const runAs = full ? identities : [identities[index % 2] ?? 'user'];
      for (const identity of runAs)
        it(`${server.name} as ${identity}: tools/list and ${server.call.name}`, async () => {
          const outcome = await runCompat(server, 'gvisor', identity);
          expect(outcome.tools).toContain(server.lists);
          if (server.answer !== 'answered') expect(outcome.text).toMatch(server.answer);
          expect(outcome.stderr).not.toMatch(/killed by the Airlock/);
        }, 120_000);
    },
  );
});
