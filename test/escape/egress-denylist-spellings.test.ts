import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, oacpCli, openDir, who } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9, egress: a denylist CIDR written in IPv4-mapped IPv6
 * (`::ffff:127.0.0.0/104`, `::ffff:0:0/96`) matched nothing, because targets
 * were judged as the IPv4 address inside them and a v6 block never contains a
 * v4 address: the allowlisted 127.0.0.1 and even `[::ffff:127.0.0.1]`, named
 * inside the denied block, were reached. A block now matches every spelling of
 * the address. Real CLI, real proxy, both tiers, root and uid 1000.
 */
const tiers = [
  ['hardened', (await new HardenedTier().availability()).available],
  ['gvisor', (await new GvisorTier().availability()).available],
] as const;

const FETCH = `
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        print(urllib.request.urlopen(url, timeout=20).status, "reached", flush=True)
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get("x-oacp-egress-denied"), flush=True)
    except Exception as e:
        print("error", e, flush=True)
`;

describe.skipIf(!existsSync(PYTHON))(
  'egress: a denylist block matches the address however it is spelled',
  () => {
    const root = openDir('oacp-egress-deny-');
    let server: Server;
    let port = 0;
    let hits = 0;

    beforeAll(async () => {
      server = createServer((_req, res) => {
        hits++;
        res.end('host-daemon');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    });

    function manifest(name: string, denylist: readonly string[]): string {
      const file = join(root, `${name}.json`);
      const allowlist = [`127.0.0.1:${port}`, `[::ffff:127.0.0.1]:${port}`];
      const body = {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name,
        capabilities: { network: { allowlist, denylist } },
      };
      writeFileSync(file, JSON.stringify(body), { mode: 0o644 });
      return file;
    }

    for (const [tier, available] of tiers) {
      for (const user of ATTACKERS) {
        const as = user === undefined ? {} : { asUser: user };
        const fetch = (file: string) =>
          oacpCli(
            [
              'run',
              '--tier',
              tier,
              '--manifest',
              file,
              '--',
              PYTHON,
              '-c',
              FETCH,
              `http://127.0.0.1:${port}/`,
              `http://[::ffff:127.0.0.1]:${port}/`,
            ],
            { env: { HOME: root }, ...as },
          );

        it.skipIf(!available)(
          `oacp run --tier ${tier}, ${who(user)}: denylist ::ffff:127.0.0.0/104 and ::ffff:0:0/96 refuse the allowlisted 127.0.0.1 in both spellings`,
          {
            timeout: 120_000,
          },
          async () => {
            const before = hits;
            for (const block of ['::ffff:127.0.0.0/104', '::ffff:0:0/96']) {
              const result = await fetch(manifest(`deny-${tier}-${user?.uid ?? 'me'}`, [block]));
              expect(result.stdout.trim().split('\n')).toEqual([
                `403 127.0.0.1:${port} is in the network denylist (${block})`,
                `403 [::ffff:7f00:1]:${port} is in the network denylist (${block})`,
              ]);
              expect(result.code).toBe(0);
            }
            expect(hits).toBe(before);
          },
        );

        it.skipIf(!available)(
          `oacp run --tier ${tier}, ${who(user)}: without the denylist the same allowlist reaches the server (the refusal above is the denylist's)`,
          {
            timeout: 120_000,
          },
          async () => {
            const before = hits;
            const result = await fetch(manifest(`open-${tier}-${user?.uid ?? 'me'}`, []));
            expect(result.stdout.trim().split('\n')).toEqual(['200 reached', '200 reached']);
            expect(hits).toBe(before + 2);
          },
        );
      }
    }
  },
);
