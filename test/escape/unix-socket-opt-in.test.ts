import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9 item 7: a refusal names what lifts it. The hardened tier refuses
 * socket(AF_UNIX) (docs/hardened-tier.md, "Unix sockets"); a program that
 * needs one (headless chromium, so puppeteer and playwright servers) fails
 * with "Operation not permitted". Through the real CLI, as root and uid 1000:
 * the failure prints `--allow-unix-sockets` and `--tier gvisor`; the flag
 * lets the program make its own sockets; what the flag opens (a host
 * pathname socket in a grant) is exactly what the docs say, no more (a host
 * abstract socket stays unreachable). Without the flag a host socket in a
 * grant stays unreachable: test/escape/unix-sockets.test.ts.
 */
const hardened = (await new HardenedTier().availability()).available;
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];

const SOCKET_CALL = 'import socket; socket.socket(socket.AF_UNIX)';
const OWN_SOCKET = `
import socket, sys, time
server = socket.socket(socket.AF_UNIX)
server.bind("/tmp/own.sock")
server.listen(1)
client = socket.socket(socket.AF_UNIX)
client.connect("/tmp/own.sock")
server.accept()[0].sendall(b"own-ok")
print(client.recv(20).decode(), file=sys.stderr if len(sys.argv) > 1 else sys.stdout, flush=True)
if len(sys.argv) > 1: time.sleep(30)
`;
const HOST_PROBE = `
import socket, sys
for label, address in (("host", sys.argv[1]), ("abstract", "\\0" + sys.argv[2])):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(address)
        print(label, "reply", s.recv(100).decode().strip(), flush=True)
    except OSError as e:
        print(label, "refused", e.errno, flush=True)
`;
// The attack: skip the forwarder and ask the host's egress proxy for the metadata address and an unlisted host.
const PROXY_PROBE = `
import socket
for target in ("169.254.169.254:80", "evil.example:443"):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/run/oacp/egress.sock")
    s.sendall(("CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (target, target)).encode())
    s.settimeout(20)
    head = s.recv(300).decode(errors="replace").split("\\r\\n")
    print(head[0].split(" ", 1)[1], [h for h in head if h.startswith("x-oacp-egress-denied")][0].split(": ", 1)[1], flush=True)
`;
const HINT = /--allow-unix-sockets \(manifest: capabilities\.unix_sockets: true/;

describe.skipIf(!hardened)('hardened: a refused Unix socket names --allow-unix-sockets', () => {
  const root = openDir('oacp-uds-opt-in-');
  const abstract = `oacp-uds-opt-in-${process.pid}`;
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
  beforeAll(() => listen(`\0${abstract}`));
  afterAll(() => {
    for (const server of servers) server.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const user of users) {
    const who = user === undefined ? 'invoker' : `uid ${user.uid}`;
    const as = user === undefined ? {} : { asUser: user };
    const home = (name: string): string => {
      const dir = join(root, `${name}-${user?.uid ?? 'self'}`);
      mkdirSync(dir, { mode: 0o755 });
      if (user !== undefined) execFileSync('chown', [`${user.uid}:${user.gid}`, dir]);
      return dir;
    };

    it(`oacp run, ${who}: refused with the hint by default; works with --allow-unix-sockets`, {
      timeout: 60_000,
    }, async () => {
      const env = { HOME: home('run') };
      const refused = await oacpCli(['run', '--', PYTHON, '-c', SOCKET_CALL], { env, ...as });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Operation not permitted');
      expect(refused.stderr).toMatch(HINT);
      expect(refused.stderr).toContain('--tier gvisor');
      // One line, on the failure path only.
      expect(refused.stderr.split('\n').filter((line) => line.includes('--allow-unix-sockets'))).toHaveLength(
        1,
      );

      const allowed = await oacpCli(['run', '--allow-unix-sockets', '--', PYTHON, '-c', OWN_SOCKET], {
        env,
        ...as,
      });
      expect([allowed.code, allowed.stdout, allowed.stderr]).toEqual([0, 'own-ok\n', '']);

      // A program failing for another reason gets no socket hint.
      const other = await oacpCli(['run', '--', PYTHON, '-c', 'import sys; sys.exit("no such thing")'], {
        env,
        ...as,
      });
      expect(other.code).toBe(1);
      expect(other.stderr).not.toContain('--allow-unix-sockets');
    });

    it(`oacp run --allow-unix-sockets, ${who}: a host socket in a :ro grant becomes connectable (as documented), a host abstract socket does not`, {
      timeout: 60_000,
    }, async () => {
      const dir = home('grant');
      const path = join(dir, 'control.sock');
      await listen(path);
      chmodSync(path, 0o777);
      const before = accepted;
      const result = await oacpCli(
        [
          'run',
          '--allow-unix-sockets',
          '--allow-files',
          `${dir}:ro`,
          '--',
          PYTHON,
          '-c',
          HOST_PROBE,
          path,
          abstract,
        ],
        { env: { HOME: root }, ...as },
      );
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(result.stdout).toContain('host reply HOST-SOCKET-REPLY\n');
      expect(result.stdout).toMatch(/^abstract refused \d+$/m);
      expect(accepted).toBe(before + 1);
    });

    it(`oacp run --allow-unix-sockets --allow-network, ${who}: the egress proxy's socket, driven directly, answers only what the allowlist permits`, {
      timeout: 60_000,
    }, async () => {
      const result = await oacpCli(
        [
          'run',
          '--allow-unix-sockets',
          '--allow-network',
          'example.com:443',
          '--',
          PYTHON,
          '-c',
          PROXY_PROBE,
        ],
        { env: { HOME: root }, ...as },
      );
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(result.stdout.match(/^403 .*not in the network allowlist/gm)).toHaveLength(2);
    });

    it(`oacp mcp run, ${who}: a server dying on a refused socket names the flag; with it, it runs`, {
      timeout: 120_000,
    }, async () => {
      const env = { HOME: home('mcp') };
      expect((await oacpCli(['init'], { env, ...as })).code).toBe(0);
      const refused = await oacpCli(['mcp', 'run', '--', PYTHON, '-c', SOCKET_CALL], {
        env,
        ...as,
        holdStdinUntil: /allow-unix-sockets|restarting/,
      });
      expect(refused.stderr).toContain('Operation not permitted');
      expect(refused.stderr).toMatch(HINT);
      expect(refused.stderr).toContain('--tier gvisor');

      const allowed = await oacpCli(
        ['mcp', 'run', '--allow-unix-sockets', '--', PYTHON, '-c', OWN_SOCKET, 'serve'],
        { env, ...as, holdStdinUntil: /own-ok|exited/ },
      );
      expect(allowed.stderr).toContain('own-ok');
      expect(allowed.stderr).not.toContain('--allow-unix-sockets');
    });
  }
});
