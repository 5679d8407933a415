import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKERS, oacpCli, openDir, who } from './confine-harness.js';
import { EGRESS_TIERS, type HostDaemon, hostDaemon, PROXY_FETCH } from './egress-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9, egress: a denylist CIDR written in IPv4-mapped IPv6
 * (`::ffff:127.0.0.0/104`, `::ffff:0:0/96`) matched nothing, because targets
 * were judged as the IPv4 address inside them and a v6 block never contains a
 * v4 address: the allowlisted 127.0.0.1 and even `[::ffff:127.0.0.1]`, named
 * inside the denied block, were reached. A block now matches every spelling of
 * the address. Real CLI, real proxy, both tiers, root and uid 1000.
 */

describe.skipIf(!existsSync(PYTHON))(
  'egress: a denylist block matches the address however it is spelled',
  () => {
    const root = openDir('oacp-egress-deny-');
    let daemon: HostDaemon;

    beforeAll(async () => {
      daemon = await hostDaemon('127.0.0.1');
    });
    afterAll(async () => {
      await daemon.close();
      rmSync(root, { recursive: true, force: true });
    });

    function manifest(name: string, denylist: readonly string[]): string {
      const file = join(root, `${name}.json`);
      const allowlist = [`127.0.0.1:${daemon.port}`, `[::ffff:127.0.0.1]:${daemon.port}`];
      const body = {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name,
        capabilities: { network: { allowlist, denylist } },
      };
      writeFileSync(file, JSON.stringify(body), { mode: 0o644 });
      return file;
    }

    for (const [tier, available] of EGRESS_TIERS) {
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
              PROXY_FETCH,
              `http://127.0.0.1:${daemon.port}/`,
              `http://[::ffff:127.0.0.1]:${daemon.port}/`,
            ],
            { env: { HOME: root }, ...as },
          );

        it.skipIf(!available)(
          `oacp run --tier ${tier}, ${who(user)}: denylist ::ffff:127.0.0.0/104 and ::ffff:0:0/96 refuse the allowlisted 127.0.0.1 in both spellings`,
          {
            timeout: 120_000,
          },
          async () => {
            const before = daemon.hits();
            for (const block of ['::ffff:127.0.0.0/104', '::ffff:0:0/96']) {
              const result = await fetch(manifest(`deny-${tier}-${user?.uid ?? 'me'}`, [block]));
              expect(result.stdout.trim().split('\n')).toEqual([
                `403 127.0.0.1:${daemon.port} is in the network denylist (${block})`,
                `403 [::ffff:7f00:1]:${daemon.port} is in the network denylist (${block})`,
              ]);
              expect(result.code).toBe(0);
            }
            expect(daemon.hits()).toBe(before);
          },
        );

        it.skipIf(!available)(
          `oacp run --tier ${tier}, ${who(user)}: without the denylist the same allowlist reaches the server (the refusal above is the denylist's)`,
          {
            timeout: 120_000,
          },
          async () => {
            const before = daemon.hits();
            const result = await fetch(manifest(`open-${tier}-${user?.uid ?? 'me'}`, []));
            expect(result.stdout.trim().split('\n')).toEqual(['200 reached', '200 reached']);
            expect(daemon.hits()).toBe(before + 2);
          },
        );
      }
    }
  },
);
