import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKERS, isRoot, oacpCli, openDir, who } from './confine-harness.js';
import { EGRESS_TIERS, type HostDaemon, hostDaemon, PROXY_FETCH } from './egress-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9, egress: a sandbox allowlisted to a *name* must not reach the host
 * it runs on. The proxy refused names resolving to loopback and private
 * ranges, but not to the host's own interface addresses when those are public
 * (a cloud VM's address, or 192.0.2.2 on the CI machine): `x.attacker.example`
 * pointed at the host reached every daemon listening on 0.0.0.0, through the
 * host's own proxy. The attacker's DNS is played by /etc/hosts, bound over in
 * a private mount namespace that only the run sees (real getaddrinfo, real
 * proxy, real sandbox). The IP literal, allowlisted as such, still works.
 */
const hostAddress = Object.values(networkInterfaces())
  .flatMap((entries) => entries ?? [])
  .find((entry) => !entry.internal && entry.family === 'IPv4')?.address;
const NAME = 'self.attacker.example';
const skip = !isRoot || hostAddress === undefined || !existsSync(PYTHON) || !existsSync('/usr/bin/unshare');

describe.skipIf(skip)('egress: a name never reaches the host the proxy runs on', () => {
  const root = openDir('oacp-egress-self-');
  const hosts = join(root, 'hosts');
  let daemon: HostDaemon;
  /** Requests that arrived under the attacker's name: always zero. */
  let byName = 0;

  beforeAll(async () => {
    writeFileSync(hosts, `127.0.0.1 localhost\n${hostAddress} ${NAME}\n`, { mode: 0o644 });
    daemon = await hostDaemon('0.0.0.0', (req) => {
      if (req.headers.host?.startsWith(NAME)) byName++;
    });
  });
  afterAll(async () => {
    await daemon.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const [tier, available] of EGRESS_TIERS) {
    for (const user of ATTACKERS) {
      it.skipIf(!available)(
        `oacp run --tier ${tier} --allow-network ${NAME}, ${who(user)}: the name resolving to this host's address ${hostAddress} is refused; the literal, allowlisted, is reached`,
        {
          timeout: 120_000,
        },
        async () => {
          const before = daemon.hits();
          const result = await oacpCli(
            [
              'run',
              '--tier',
              tier,
              '--allow-network',
              `${NAME}:${daemon.port}`,
              '--allow-network',
              `${hostAddress}:${daemon.port}`,
              '--',
              PYTHON,
              '-c',
              PROXY_FETCH,
              `http://${NAME}:${daemon.port}/`,
              `http://${hostAddress}:${daemon.port}/`,
            ],
            {
              env: { HOME: root },
              ...(user === undefined ? {} : { asUser: user }),
              within: privateHosts(),
            },
          );
          const lines = result.stdout.trim().split('\n');
          expect(lines[0]).toBe(
            `403 ${NAME} resolved to ${hostAddress}: ${hostAddress} is an address of this host; a name never reaches such an address (allowlist the IP literal instead)`,
          );
          expect(lines[1]).toBe('200 reached');
          expect([result.code, lines.length]).toEqual([0, 2]);
          expect(daemon.hits()).toBe(before + 1);
        },
      );
    }
  }

  for (const user of ATTACKERS) {
    it.skipIf(!EGRESS_TIERS[0][1])(
      `oacp mcp run --allow-network ${NAME}, ${who(user)}: the same refusal for an MCP server`,
      {
        timeout: 120_000,
      },
      async () => {
        const home = join(root, `mcp-${user?.uid ?? 'self'}`);
        mkdirSync(home, { mode: 0o755 });
        if (user !== undefined) execFileSync('chown', [`${user.uid}:${user.gid}`, home]);
        const as = { env: { HOME: home }, ...(user === undefined ? {} : { asUser: user }) };
        expect((await oacpCli(['init'], as)).code).toBe(0);
        const before = daemon.hits();
        const result = await oacpCli(
          [
            'mcp',
            'run',
            '--allow-network',
            `${NAME}:${daemon.port}`,
            '--allow-network',
            `${hostAddress}:${daemon.port}`,
            '--',
            PYTHON,
            '-c',
            PROXY_FETCH.replaceAll('flush=True', 'file=sys.stderr, flush=True'),
            `http://${NAME}:${daemon.port}/`,
            `http://${hostAddress}:${daemon.port}/`,
          ],
          { ...as, within: privateHosts(), holdStdinUntil: /200 reached|exited/ },
        );
        expect(result.stderr).toContain(
          `403 ${NAME} resolved to ${hostAddress}: ${hostAddress} is an address of this host`,
        );
        expect(result.stderr).toContain('200 reached');
        // The server may be restarted before stdin closes: the literal is reached each time, the name never.
        expect(daemon.hits()).toBeGreaterThan(before);
        expect(byName).toBe(0);
      },
    );
  }

  /** /etc/hosts, for this run only, says the attacker's name is this host. */
  function privateHosts(): readonly string[] {
    return [
      '/usr/bin/unshare',
      '-m',
      '--',
      '/bin/sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hosts,
    ];
  }
});
