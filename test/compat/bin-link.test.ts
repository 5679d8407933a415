import { describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import { BIN_LINK_SERVER } from './servers.js';

/**
 * `oacp mcp run -- ./node_modules/.bin/NAME`: the program is npm's symlink to
 * an ES module whose imports are relative to its real directory. The sandbox
 * used to bind the link's target as a plain file at the link's path and run
 * it there, so Node looked for `.bin/config.js` and the server exited.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : [];

describe.skipIf(!binaryBuilt() || identities.length === 0)('compat: a server started by its bin link', () => {
  for (const tier of ['hardened', 'gvisor'] as const)
    for (const identity of identities)
      it(`${tier} as ${identity}: tools/list and ${BIN_LINK_SERVER.call.name}`, async () => {
        const outcome = await runCompat(BIN_LINK_SERVER, tier, identity);
        expect(outcome.tools).toContain(BIN_LINK_SERVER.lists);
        expect(outcome.text).toMatch(BIN_LINK_SERVER.answer as RegExp);
        expect(outcome.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|killed by the Airlock/);
      }, 120_000);
});
