import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9 (round 4, item 2): Unix sockets that reach no host socket work;
 * host sockets stay unreachable. The attack: a host process listens on a
 * pathname socket (mode 0777) inside a directory granted to the sandbox
 * (`:ro`, `:rw`, with and without a network allowlist) and on an abstract
 * socket, and counts connections. Through the real CLI, as root and as uid
 * 1000, in both confined tiers.
 *
 * What works: socketpair(AF_UNIX) everywhere; a private socket in the
 * sandbox's /tmp in gVisor without an allowlist. What stays refused:
 * socket(AF_UNIX) in the hardened tier (no Landlock right on this kernel
 * governs connect() to a pathname socket: docs/hardened-tier.md, "Unix
 * sockets"), and in gVisor with an allowlist (--host-uds=open).
 */
const tiers = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];

const PROBE = `
import socket, sys
path, abstract = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
a.sendall(b"pair-ok")
print(b.recv(20).decode(), flush=True)
for label, address in (("host", path), ("abstract", "\\0" + abstract)):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        try:
            s = socket.socket(socket.AF_UNIX, kind)
            if kind == socket.SOCK_STREAM:
                s.connect(address)
                print(label, "reply", s.recv(100), flush=True)
            else:
                s.sendto(b"shutdown", address)
                print(label, "sent", flush=True)
        except OSError as e:
            print(label, "refused", e.errno, flush=True)
try:
    server = socket.socket(socket.AF_UNIX)
    server.bind("/tmp/own.sock")
    server.listen(1)
    client = socket.socket(socket.AF_UNIX)
    client.connect("/tmp/own.sock")
    server.accept()[0].sendall(b"own-ok")
    print(client.recv(20).decode(), flush=True)
except OSError as e:
    print("own refused", e.errno, flush=True)
`;

describe.skipIf(!tiers.hardened && !tiers.gvisor)('Unix sockets: nothing on the host is reachable', () => {
  const root = openDir('oacp-uds-');
  const abstract = `oacp-uds-test-${process.pid}`;
  const servers: Server[] = [];
  let accepted = 0;

  const listen = (address: string): Promise<void> => {
    const server = createServer((socket) => {
      accepted++;
      socket.end('HOST-SOCKET-REPLY\n');
    });
    servers.push(server);
    return new Promise((resolve) => server.listen(address, resolve));
  };

  beforeAll(async () => {
    await listen(`\0${abstract}`);
  });
  afterAll(() => {
    for (const server of servers) server.close();
    rmSync(root, { recursive: true, force: true });
  });

  const cases = [
    { grant: ':ro', network: false },
    { grant: ':rw', network: false },
    { grant: ':rw', network: true },
  ] as const;

  for (const tier of ['hardened', 'gvisor'] as const)
    for (const user of users)
      for (const { grant, network } of cases) {
        const who = user === undefined ? 'invoker' : `uid ${user.uid}`;
        it.skipIf(!tiers[tier])(
          `${tier}, ${who}: a host socket in a ${grant} grant${network ? ' with a network allowlist' : ''} gets no connection; socketpair works`,
          { timeout: 60_000 },
          async () => {
            const dir = join(root, `${tier}-${user?.uid ?? 'self'}-${grant.slice(1)}-${network}`);
            mkdirSync(dir, { mode: 0o755 });
            if (user !== undefined) execFileSync('chown', [`${user.uid}:${user.gid}`, dir]);
            const path = join(dir, 'control.sock');
            await listen(path);
            chmodSync(path, 0o777);
            const before = accepted;
            const result = await oacpCli(
              [
                'run',
                '--tier',
                tier,
                '--allow-files',
                `${dir}${grant}`,
                ...(network ? ['--allow-network', '192.0.2.1:9'] : []),
                '--',
                PYTHON,
                '-c',
                PROBE,
                path,
                abstract,
              ],
              { env: { HOME: root }, ...(user === undefined ? {} : { asUser: user }) },
            );
            expect([result.code, result.stderr]).toEqual([0, '']);
            expect(result.stdout).toContain('pair-ok\n');
            expect(result.stdout).not.toMatch(/reply|sent/);
            expect(result.stdout.match(/^(host|abstract) refused \d+$/gm)).toHaveLength(4);
            expect(accepted).toBe(before);
            // Only gVisor without an allowlist (--host-uds=none) lets the workload make Unix sockets of its own.
            if (tier === 'gvisor' && !network) expect(result.stdout).toContain('own-ok\n');
            else expect(result.stdout).toContain('own refused 1\n');
          },
        );
      }
});
