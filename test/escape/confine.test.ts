import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { WORKLOAD_ID } from '../../src/airlock/native/identity.js';
import { escapeControl } from '../../src/core/terminal-text.js';
import { implicitReadPaths } from '../../src/mcp/implicit-paths.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import { isRoot, oacpCli, openDir, operatorHome, REGULAR_USER } from './confine-harness.js';
import { type AttackedTier, manifest, PYTHON, run } from './native-harness.js';

/**
 * Issue 9, items 2-5: one test per escape class, the attack then the
 * assertion that it is contained, in both confined tiers. The most important
 * ones go through the real `oacp` binary, and again as a regular user when
 * the suite runs as root.
 */
const TIERS: Record<
  'hardened' | 'gvisor',
  AttackedTier & { availability(): Promise<{ available: boolean }> }
> = { hardened: new HardenedTier(), gvisor: new GvisorTier() };
const available = {
  hardened: (await TIERS.hardened.availability()).available,
  gvisor: (await TIERS.gvisor.availability()).available,
};
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];
const who = (user: typeof REGULAR_USER | undefined) =>
  user === undefined ? 'as the invoker' : 'as uid 1000';

describe('workload text on the operator terminal', () => {
  it('escapes CSI, OSC 52, title and C1 sequences, keeping tab and newline', () => {
    const attack = '\u001b]52;c;cHduZWQ=\u0007\u001b]0;owned\u0007\u001b[2J\u009b31m\r\bok\tline\n';
    expect(escapeControl(attack)).toBe(
      '\\x1b]52;c;cHduZWQ=\\x07\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0d\\x08ok\tline\n',
    );
  });
});

describe('implicit read paths come from explicit roots only', () => {
  it("grants an interpreter's install prefix, the script's package and the node_modules Node resolves", () => {
    const root = openDir('oacp-implicit-');
    try {
      const prefix = join(root, 'nvm', 'v20');
      const node = join(prefix, 'bin', 'node');
      const project = join(root, 'project');
      const pkg = join(project, 'node_modules', 'server');
      mkdirSync(join(prefix, 'bin'), { recursive: true });
      mkdirSync(pkg, { recursive: true });
      copyFileSync('/bin/true', node);
      chmodSync(node, 0o755);
      writeFileSync(join(pkg, 'package.json'), '{"name":"server","version":"1.0.0"}');
      writeFileSync(join(pkg, 'index.js'), '');
      const paths = implicitReadPaths(serverIdentity('server', node, [join(pkg, 'index.js')]));
      expect(paths).toEqual([node, prefix, pkg, join(project, 'node_modules')]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('grants ~/bin/cat itself, never its parent (the home holding .oacp)', () => {
    const root = openDir('oacp-implicit-');
    try {
      const { home, cat } = operatorHome(root);
      copyFileSync('/bin/cat', cat);
      chmodSync(cat, 0o755);
      const paths = implicitReadPaths(serverIdentity('cat', cat, []), [join(home, '.oacp')]);
      expect(paths).toEqual([cat]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

for (const tierName of ['hardened', 'gvisor'] as const) {
  const tier = TIERS[tierName];
  describe.skipIf(!available[tierName] || !existsSync(PYTHON))(`${tierName}: confinement classes`, () => {
    const root = openDir(`oacp-confine-${tierName}-`);
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    for (const user of users) {
      it(`keys: oacp run -- ~/bin/cat ~/.oacp/master.key prints nothing of the key (${who(user)})`, async () => {
        const base = mkdtempSync(join(root, 'keys-'));
        chmodSync(base, 0o755);
        const { home, cat, masterKey } = operatorHome(base);
        copyFileSync('/bin/cat', cat);
        chmodSync(cat, 0o755);
        writeFileSync(masterKey, 'MASTER-KEY-BYTES', { mode: 0o600 });
        if (user !== undefined) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, home]);
        const env = { HOME: home };
        const direct = await oacpCli(['run', '--tier', tierName, '--', cat, masterKey], {
          env,
          ...(user === undefined ? {} : { asUser: user }),
        });
        expect(direct.stdout + direct.stderr).not.toContain('MASTER-KEY-BYTES');
        expect(direct.code).not.toBe(0);
        const granted = await oacpCli(
          ['run', '--tier', tierName, '--allow-files', home, '--', cat, masterKey],
          { env, ...(user === undefined ? {} : { asUser: user }) },
        );
        expect(granted.stdout).not.toContain('MASTER-KEY-BYTES');
        expect(granted.stderr).toContain(`grant ${home} overlaps the OACP home ${join(home, '.oacp')}`);
      });
    }

    it('keys: oacp mcp run -- ~/bin/cat ~/.oacp/master.key serves nothing of the key either', async () => {
      const base = mkdtempSync(join(root, 'mcp-keys-'));
      const { home, cat, masterKey } = operatorHome(base);
      copyFileSync('/bin/cat', cat);
      chmodSync(cat, 0o755);
      const env = { HOME: home };
      expect((await oacpCli(['init'], { env })).code).toBe(0);
      const key = readFileSync(masterKey);
      // stdin stays open until the server has run and said why it stops (at most 60 s).
      const result = await oacpCli(['mcp', 'run', '--tier', tierName, '--', cat, masterKey], {
        env,
        holdStdinUntil: /No such file or directory/,
      });
      const seen = result.stdout + result.stderr;
      expect(seen).toContain('No such file or directory');
      expect(seen).not.toContain(key.toString('hex').slice(0, 16));
      expect(seen).not.toContain(key.toString('base64').slice(0, 16));
      expect(seen).not.toContain(key.toString('utf8').slice(0, 16));
      const granted = await oacpCli(
        ['mcp', 'run', '--tier', tierName, '--allow-files', home, '--', cat, masterKey],
        {
          env,
        },
      );
      expect(granted.stderr).toContain(`grant ${home} overlaps the OACP home ${join(home, '.oacp')}`);
    });

    it('env: OACP_MASTER_KEY stays out even with --allow-env OACP_* and O*', async () => {
      const result = await oacpCli(
        [
          'run',
          '--tier',
          tierName,
          '--allow-env',
          'OACP_*',
          '--allow-env',
          'O*',
          '--allow-env',
          'VISIBLE',
          '--',
          '/usr/bin/env',
        ],
        { env: { OACP_MASTER_KEY: 'SECRET-MASTER', OACP_HOME: join(root, 'env-home'), VISIBLE: 'yes' } },
      );
      expect(result.stdout).toContain('VISIBLE=yes');
      expect(result.stdout).not.toContain('SECRET-MASTER');
      expect(result.stdout).not.toMatch(/^OACP_/m);
    });

    it('terminal: escape sequences a workload writes to stderr reach the operator escaped', async () => {
      const result = await oacpCli([
        'run',
        '--tier',
        tierName,
        '--',
        '/usr/bin/printf',
        '\\033]52;c;cHduZWQ=\\007\\033]0;owned\\007',
      ]);
      // printf writes to stdout, which here is a pipe: data, unchanged; stderr is relayed escaped.
      const stderr = await oacpCli([
        'run',
        '--tier',
        tierName,
        '--',
        '/bin/sh',
        '-c',
        "printf '\\033]0;owned\\007' >&2",
      ]);
      expect(result.stdout).toBe('\u001b]52;c;cHduZWQ=\u0007\u001b]0;owned\u0007');
      expect(stderr.stderr).toContain('\\x1b]0;owned\\x07');
      expect(stderr.stderr).not.toContain('\u001b');
    });

    for (const user of users) {
      it(`descriptors: fds 3..15, 20 and 40 of the oacp process are closed in the workload (${who(user)})`, async () => {
        const secret = join(root, `root-only-${user?.uid ?? 'invoker'}`);
        writeFileSync(secret, 'FD-SECRET', { mode: 0o600 });
        const fds: Record<number, number> = {};
        for (const fd of [3, 5, 9, 15, 20, 40]) fds[fd] = openSync(secret, 'r+');
        try {
          const probe =
            'import os\nopen_fds=[]\nfor fd in range(3, 64):\n    try:\n        os.fstat(fd); open_fds.append(fd)\n    except OSError: pass\n' +
            "try:\n    print('read', os.read(20, 100))\nexcept OSError as e:\n    print('read-error', e.errno)\n" +
            "try:\n    os.write(20, b'x'); print('wrote')\nexcept OSError as e:\n    print('write-error', e.errno)\nprint('open', open_fds)";
          const result = await oacpCli(['run', '--tier', tierName, '--', PYTHON, '-c', probe], {
            fds,
            ...(user === undefined ? {} : { asUser: user }),
          });
          expect(result.stdout).toContain('read-error 9');
          expect(result.stdout).toContain('write-error 9');
          expect(result.stdout).toContain('open []');
          expect(readFileSync(secret, 'utf8')).toBe('FD-SECRET');
        } finally {
          for (const fd of Object.values(fds)) closeSync(fd);
        }
      });
    }

    it('identity: a private (0700, mktemp -d) grant works read/write, without capabilities, written as its owner', async () => {
      const privateDir = mkdtempSync(join(tmpdir(), 'oacp-private-'));
      try {
        expect(statSync(privateDir).mode & 0o777).toBe(0o700);
        writeFileSync(join(privateDir, 'in.txt'), 'from host', { mode: 0o600 });
        const result = await run(tier, {
          command: '/bin/sh',
          args: [
            '-c',
            `cat ${privateDir}/in.txt; echo written > ${privateDir}/out.txt; grep CapEff /proc/self/status`,
          ],
          manifest: manifest({ file_read: [], file_write: [`${privateDir}/**`] }),
        });
        expect(result.out).toContain('from host');
        expect(result.out).toMatch(/CapEff:\s+0000000000000000/);
        expect(readFileSync(join(privateDir, 'out.txt'), 'utf8')).toBe('written\n');
        expect(statSync(join(privateDir, 'out.txt')).uid).toBe(process.getuid?.());
      } finally {
        rmSync(privateDir, { recursive: true, force: true });
      }
    });

    it('setuid: chmod 6755, O_CREAT with set-id bits and mknod leave no privileged file on the host', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oacp-setuid-'));
      try {
        const script = [
          `cp /usr/bin/id ${dir}/x && chmod 6755 ${dir}/x; echo chmod=$?`,
          `chmod u+s ${dir}/x; echo chmod-us=$?`,
          `${PYTHON} -c "import os; os.close(os.open('${dir}/y', os.O_CREAT|os.O_WRONLY, 0o6755))"; echo creat=$?`,
          `mknod ${dir}/null c 1 3; echo mknod=$?`,
          `mknod ${dir}/disk b 8 0; echo mknod-block=$?`,
        ].join('\n');
        const result = await run(tier, {
          command: '/bin/sh',
          args: ['-c', script],
          manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
        });
        expect(result.out).toMatch(/chmod=1/);
        expect(result.out).toMatch(/chmod-us=1/);
        expect(result.out).toMatch(/creat=1/);
        expect(existsSync(join(dir, 'null'))).toBe(false);
        expect(existsSync(join(dir, 'disk'))).toBe(false);
        for (const name of ['x', 'y']) {
          if (existsSync(join(dir, name))) expect(statSync(join(dir, name)).mode & 0o6000).toBe(0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it.skipIf(!isRoot)(
      'root-only files: a 0600 root file in a grant owned by another user is unreadable',
      async () => {
        const dir = openDir('oacp-foreign-');
        try {
          chownSync(dir, REGULAR_USER.uid, REGULAR_USER.gid);
          writeFileSync(join(dir, 'root-only'), 'ROOT-ONLY', { mode: 0o600 });
          writeFileSync(join(dir, 'shared'), 'SHARED', { mode: 0o644 });
          const result = await run(tier, {
            command: '/bin/sh',
            args: ['-c', `id -u; cat ${dir}/shared; cat ${dir}/root-only; echo rc=$?`],
            manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
          });
          // As root the workload is the dedicated id (test/escape/identity.test.ts), whatever the grant's owner.
          expect(result.out).toContain(`${WORKLOAD_ID}\nSHARED`);
          expect(result.out).not.toContain('ROOT-ONLY');
          expect(result.out).toContain('rc=1');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it('IPC: a SysV shared memory segment made in one sandbox is not visible in another or on the host', async () => {
      const key = 0x0ac9_0000 + (process.pid % 0xffff);
      const shm = (flags: number) =>
        `import ctypes,sys\nlibc=ctypes.CDLL(None,use_errno=True)\nr=libc.shmget(${key},4096,${flags})\nprint('shmget', r, ctypes.get_errno())`;
      const made = await run(tier, { command: PYTHON, args: ['-c', shm(0o1666)], manifest: manifest() });
      expect(made.out).toMatch(/^shmget \d+ 0/m);
      const other = await run(tier, { command: PYTHON, args: ['-c', shm(0)], manifest: manifest() });
      expect(other.out).toMatch(/^shmget -1 2$/m);
      expect(execFileSync('ipcs', ['-m']).toString()).not.toContain(`0x${key.toString(16).padStart(8, '0')}`);
    });

    describe('host sockets', () => {
      const dir = openDir(`oacp-uds-${tierName}-`);
      const path = join(dir, 'control.sock');
      let server: Server;
      let accepted = 0;
      beforeAll(async () => {
        server = createServer((socket) => {
          accepted++;
          socket.end('HOST-SOCKET-REPLY\n');
        });
        await new Promise<void>((resolve) => server.listen(path, resolve));
        chmodSync(path, 0o777);
      });
      afterAll(() => {
        server.close();
        rmSync(dir, { recursive: true, force: true });
      });

      for (const [label, extra] of [
        [':ro grant', {}],
        [':rw grant and a network allowlist', { network: { allowlist: ['127.0.0.1'] } }],
      ] as const) {
        it(`a Unix socket inside a ${label} cannot be reached`, async () => {
          const connect = `import socket\ntry:\n    s=socket.socket(socket.AF_UNIX)\n    s.connect('${path}')\n    print('reply', s.recv(100))\nexcept OSError as e:\n    print('refused', e.errno)`;
          const grants =
            'network' in extra
              ? { file_read: [], file_write: [`${dir}/**`], ...extra }
              : { file_read: [`${dir}/**`] };
          const result = await run(tier, {
            command: PYTHON,
            args: ['-c', connect],
            manifest: manifest(grants),
          });
          expect(result.out).toMatch(/^refused \d+$/m);
          expect(accepted).toBe(0);
        });
      }

      it(
        tierName === 'gvisor'
          ? 'without an allowlist Unix sockets work inside, yet the host socket in a :rw grant stays unreachable'
          : 'socket(AF_UNIX) stays refused: nothing on this kernel keeps pathname sockets in grants unreachable',
        async () => {
          const probe = `import socket, threading
try:
    srv = socket.socket(socket.AF_UNIX)
    srv.bind('/tmp/local.sock'); srv.listen(1)
    threading.Thread(target=lambda: srv.accept()[0].sendall(b'local-ok'), daemon=True).start()
    c = socket.socket(socket.AF_UNIX); c.connect('/tmp/local.sock'); print('local', c.recv(20).decode())
except OSError as e:
    print('local-refused', e.errno)
try:
    h = socket.socket(socket.AF_UNIX); h.connect('${path}'); print('reply', h.recv(100))
except OSError as e:
    print('host-refused', e.errno)`;
          const result = await run(tier, {
            command: PYTHON,
            args: ['-c', probe],
            manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
          });
          if (tierName === 'gvisor') expect(result.out).toContain('local local-ok');
          else expect(result.out).toContain('local-refused 1');
          expect(result.out).toMatch(/^host-refused \d+$/m);
          expect(accepted).toBe(0);
        },
      );

      it('the egress forwarder (which may use Unix sockets) cannot be driven: no ptrace, no writing its memory', async () => {
        const takeover = `import os, ctypes
libc = ctypes.CDLL(None, use_errno=True)
pid = next(p for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'socat')
for mode in ('rb', 'r+b'):
    try:
        open(f'/proc/{pid}/mem', mode).close(); print('mem', mode, 'opened')
    except OSError as e:
        print('mem', mode, 'refused', e.errno)
print('ptrace', libc.ptrace(16, int(pid), 0, 0), ctypes.get_errno())
try:
    os.kill(int(pid), 9); print('kill sent')
except OSError as e:
    print('kill refused', e.errno)`;
        const result = await run(tier, {
          command: PYTHON,
          args: ['-c', takeover],
          manifest: manifest({ network: { allowlist: ['127.0.0.1'] } }),
        });
        expect(result.out).toMatch(/^mem r\+b refused \d+$/m);
        expect(result.out).toMatch(/^ptrace -1 1$/m);
        // On the host kernel Landlock also hides the forwarder's memory and signals; gVisor has no Landlock.
        if (tierName === 'hardened')
          expect(result.out).toMatch(/^mem rb refused \d+\nmem r\+b.*\n.*\nkill refused/m);
      });
    });
  });
}

/**
 * The symlink race: a sandbox with a :rw grant swaps a directory with a
 * symlink to an ungranted one in a loop (renameat2 RENAME_EXCHANGE) while
 * other sandboxes start with a grant naming that directory. Each start must
 * bind the directory or be refused; never the ungranted target.
 */
const RACER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print('racing', flush=True)
while True:
    libc.renameat2(-100, a, -100, b, 2)
`;

describe.skipIf(!available.hardened || !existsSync(PYTHON))('symlink race on a grant', () => {
  for (const victim of (['hardened', 'gvisor'] as const).filter((name) => available[name])) {
    it(`never binds the ungranted target (${victim} victim, hardened attacker)`, async () => {
      const root = openDir('oacp-race-');
      const shared = join(root, 'shared');
      const secret = join(root, 'secret');
      // The operator's own folder (idmapped as root): a writable grant every account may write is refused as root.
      mkdirSync(join(shared, 'data'), { recursive: true, mode: 0o755 });
      mkdirSync(secret, { mode: 0o755 });
      chmodSync(shared, 0o755);
      writeFileSync(join(shared, 'data', 'marker'), 'GRANTED');
      writeFileSync(join(secret, 'marker'), 'UNGRANTED-SECRET');
      execFileSync('ln', ['-s', secret, join(shared, 'swap')]);
      const attacker = await TIERS.hardened.start({
        command: PYTHON,
        args: ['-c', RACER, join(shared, 'data'), join(shared, 'swap')],
        manifest: manifest({ file_read: [], file_write: [`${shared}/**`] }, { cpu_ms_per_request: 600_000 }),
        env: {},
      });
      try {
        const outcomes: string[] = [];
        for (let attempt = 0; attempt < 8; attempt++) {
          try {
            const result = await run(TIERS[victim], {
              command: '/bin/cat',
              args: [join(shared, 'data', 'marker')],
              manifest: manifest({ file_read: [`${shared}/data/**`] }),
            });
            outcomes.push(result.out || 'nothing');
          } catch (error) {
            outcomes.push(`refused: ${(error as Error).message}`);
          }
        }
        expect(outcomes.join('\n')).not.toContain('UNGRANTED-SECRET');
      } finally {
        await attacker.stop();
        rmSync(root, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
