import { afterAll, describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity } from './harness.js';
import {
  type CompatHome,
  compatHome,
  FAILS_DIRECTLY_WHEN_FRESH,
  type Form,
  REFERENCE_SERVERS,
  runNpmForm,
} from './npm-forms-harness.js';
import { COMPAT_SERVERS, SWEPT_SERVERS } from './servers.js';

/**
 * The compatibility servers started the way client configurations start
 * them: `oacp mcp run npm:<package>@<version>` and `oacp mcp run -- npx -y
 * <package>@<version>`, installed by npm outside the sandbox into the home's
 * package store (the second form finds the pinned tree: no second install),
 * run in the hardened tier with no network, as root and as a regular user.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : [];
const FORMS: Form[] = ['npm:', 'npx -y'];
/** Three of the swept servers, the lightest installs: each npm-form run installs from the registry. */
const SWEPT_VIA_NPM = ['brave-search', 'youtube-transcript', 'duckduckgo'];
const SERVERS = [
  ...COMPAT_SERVERS,
  ...REFERENCE_SERVERS,
  ...SWEPT_SERVERS.filter((server) => SWEPT_VIA_NPM.includes(server.name)),
].filter((server) => FAILS_DIRECTLY_WHEN_FRESH[server.name] === undefined);

describe.skipIf(!binaryBuilt() || identities.length === 0)(
  'compat: npm servers through npm: and npx -y',
  () => {
    const homes = new Map<Identity, CompatHome>();
    const homeOf = (identity: Identity): CompatHome => {
      let home = homes.get(identity);
      if (home === undefined) {
        home = compatHome(identity);
        homes.set(identity, home);
      }
      return home;
    };
    afterAll(() => {
      for (const home of homes.values()) home.dispose();
    });

    for (const identity of identities)
      for (const server of SERVERS)
        for (const form of FORMS)
          it(`${server.name} via ${form} as ${identity}: tools/list and ${server.call.name}`, async () => {
            const outcome = await runNpmForm(server, form, homeOf(identity));
            expect(outcome.tools).toContain(server.lists);
            if (server.answer !== 'answered') expect(outcome.text).toMatch(server.answer);
            expect(outcome.stderr).not.toMatch(/killed by the Airlock/);
            // The form was recognised and mapped onto the store, not run as a program on the host.
            expect(outcome.stderr).toMatch(/MCP bridge for /);
          }, 240_000);
  },
);
