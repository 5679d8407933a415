import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTACKERS, CLI, isRoot, openDir, who } from './confine-harness.js';
import { EGRESS_TIERS, PROXY_FETCH } from './egress-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9, egress, DNS rebinding with a real resolver: the attacker's DNS server answers a name
 * first with a public address, then with loopback. The proxy must check every answer it dials
 * and dial exactly the address it checked, never the name again (a second lookup would get
 * 127.0.0.1 and reach the host's own daemons). Everything runs in a fresh network and mount
 * namespace: a tiny DNS server (node dgram) on 127.0.0.153:53, a "host daemon" on 127.0.0.1,
 * a private /etc/resolv.conf naming the DNS server, and `oacp run` (as root and as uid 1000).
 * The namespace has no route out, so dialing the public address fails at once, naming the
 * address that was dialed; the daemon must see no request and the DNS server one A query per
 * request.
 */
const NAME = 'rebind.attacker.example';
const PUBLIC = '93.184.216.34';
const DNS = '127.0.0.153';
const skip = !isRoot || !existsSync(PYTHON) || !existsSync('/usr/sbin/ip');

/** Runs in the namespace as root: DNS server, loopback daemon, then oacp; prints a JSON report. */
const HARNESS = `
const dgram = require('node:dgram');
const http = require('node:http');
const { execFile } = require('node:child_process');
const [, , dnsAddress, publicAddress, ...oacp] = process.argv;
let aQueries = 0;
let hits = 0;
const dns = dgram.createSocket('udp4');
dns.on('message', (query, peer) => {
  let at = 12;
  while (query[at] !== 0) at += query[at] + 1;
  const question = query.subarray(12, at + 5);
  const type = query.readUInt16BE(at + 1);
  const answers = [];
  if (type === 1) {
    const address = aQueries++ === 0 ? publicAddress : '127.0.0.1';
    const answer = Buffer.alloc(16);
    answer.writeUInt16BE(0xc00c, 0);
    answer.writeUInt16BE(1, 2);
    answer.writeUInt16BE(1, 4);
    answer.writeUInt32BE(0, 6);
    answer.writeUInt16BE(4, 10);
    address.split('.').forEach((part, i) => { answer[12 + i] = Number(part); });
    answers.push(answer);
  }
  const head = Buffer.alloc(12);
  query.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  dns.send(Buffer.concat([head, question, ...answers]), peer.port, peer.address);
});
const daemon = http.createServer((req, res) => { hits++; res.end('host-daemon'); });
dns.bind(53, dnsAddress, () => daemon.listen(0, '127.0.0.1', () => {
  const port = daemon.address().port;
  const args = oacp.map((arg) => arg.replaceAll('PORT', String(port)));
  execFile(args[0], args.slice(1), { env: process.env, timeout: 90000 }, (error, stdout, stderr) => {
    process.stdout.write(JSON.stringify({ code: error ? (error.code ?? 1) : 0, stdout, stderr, hits, aQueries }));
    process.exit(0);
  });
}));
`;

describe.skipIf(skip)('egress: DNS rebinding through a real resolver', () => {
  const root = openDir('oacp-egress-rebind-');
  const harness = join(root, 'harness.cjs');
  const resolv = join(root, 'resolv.conf');
  writeFileSync(harness, HARNESS, { mode: 0o644 });
  writeFileSync(resolv, `nameserver ${DNS}\noptions attempts:1 timeout:2\n`, { mode: 0o644 });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const inNamespace = (args: readonly string[], user: (typeof ATTACKERS)[number], home: string) =>
    new Promise<{ code: number; stdout: string; stderr: string; hits: number; aQueries: number }>(
      (resolve, reject) => {
        const as =
          user === undefined
            ? []
            : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
        const optOut = user === undefined ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io'];
        execFile(
          'unshare',
          [
            '--net',
            '--mount',
            '--propagation',
            'private',
            'sh',
            '-c',
            'ip link set lo up && mount --bind "$0" /etc/resolv.conf && exec "$@"',
            resolv,
            process.execPath,
            harness,
            DNS,
            PUBLIC,
            ...as,
            process.execPath,
            CLI,
            'run',
            '--no-receipt',
            ...optOut,
            ...args,
          ],
          { env: { PATH: '/usr/bin:/bin:/usr/sbin', HOME: home }, timeout: 120_000 },
          (error, stdout, stderr) => {
            try {
              resolve(JSON.parse(stdout));
            } catch {
              reject(new Error(`harness failed: ${error?.message ?? ''} ${stdout} ${stderr}`));
            }
          },
        );
      },
    );

  for (const [tier, available] of EGRESS_TIERS) {
    for (const user of ATTACKERS) {
      it.skipIf(!available)(
        `oacp run --tier ${tier} --allow-network ${NAME}, ${who(user)}: the public answer is the address dialed, the loopback answer is refused, the daemon sees nothing`,
        { timeout: 150_000 },
        async () => {
          const home = join(root, `${tier}-${user?.uid ?? 'self'}`);
          mkdirSync(home, { mode: 0o755 });
          const url = `http://${NAME}:PORT/`;
          const result = await inNamespace(
            ['--tier', tier, '--allow-network', `${NAME}:PORT`, '--', PYTHON, '-c', PROXY_FETCH, url, url],
            user,
            home,
          );
          const lines = result.stdout.trim().split('\n');
          expect(lines[0], result.stderr).toBe(`502 cannot reach ${PUBLIC}`);
          expect(lines[1]).toMatch(
            new RegExp(
              `^403 ${NAME.replaceAll('.', '\\.')} resolved to 127\\.0\\.0\\.1: .*a name never reaches such an address`,
            ),
          );
          expect([result.code, lines.length]).toEqual([0, 2]);
          expect(result.hits).toBe(0);
          // One lookup per request: the dial used the checked answer, not a second lookup.
          expect(result.aQueries).toBe(2);
        },
      );
    }
  }
});
