import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, CLI, openDir, who } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Issue 9, item 5 (text from a workload never drives the operator's terminal), by ioctl rather
 * than by escape sequences: when `oacp run` runs on a terminal, a workload holding that terminal
 * could push keystrokes into the operator's shell with TIOCSTI, or paste the console selection
 * with TIOCLINUX, through its stdio or /dev/tty. `script` gives the run a real pty. Each attempt
 * must fail (EPERM from the filter, ENOTTY where stdio is no terminal, ENXIO/EIO for a /dev/tty
 * the sandbox's new session has no claim to), and no injected text may reach the terminal.
 */
const tiers = [
  ['hardened', (await new HardenedTier().availability()).available],
  ['gvisor', (await new GvisorTier().availability()).available],
] as const;

const INJECT = `
import fcntl, os, sys, termios
out = []
def attempt(name, fd, request, arg):
    try:
        fcntl.ioctl(fd, request, arg)
        out.append(name + ':INJECTED')
    except OSError as e:
        out.append(name + ':' + str(e.errno))
for fd in (0, 1, 2):
    attempt('sti%d' % fd, fd, termios.TIOCSTI, b'#')
    attempt('linux%d' % fd, fd, 0x541C, bytes([3]) + bytes(40))
try:
    tty = os.open('/dev/tty', os.O_RDWR)
    attempt('stitty', tty, termios.TIOCSTI, b'#')
except OSError as e:
    out.append('devtty:' + str(e.errno))
print(' '.join(out), file=sys.stderr, flush=True)
`;

describe.skipIf(!existsSync('/usr/bin/script') || !existsSync(PYTHON))(
  "a workload on the operator's terminal",
  () => {
    const root = openDir('oacp-terminal-inject-');
    const probe = join(root, 'inject.py');
    writeFileSync(probe, INJECT, { mode: 0o644 });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    for (const [tier, available] of tiers) {
      for (const user of ATTACKERS) {
        it.skipIf(!available)(
          `oacp run --tier ${tier} under a pty, ${who(user)}: TIOCSTI and TIOCLINUX fail on every descriptor`,
          {
            timeout: 120_000,
          },
          async () => {
            const home = join(root, `${tier}-${user?.uid ?? 'self'}`);
            mkdirSync(home, { mode: 0o755 });
            const as =
              user === undefined ? '' : `setpriv --reuid=${user.uid} --regid=${user.gid} --clear-groups `;
            const optOut = user === undefined ? '' : '--allow-unenforced memory,pids,cpu,disk_io ';
            const command = `${as}${process.execPath} ${CLI} run --no-receipt ${optOut}--tier ${tier} --allow-files ${probe} -- ${PYTHON} ${probe}; echo "after:$(cat 2>/dev/null <&0 & sleep 1; kill $! 2>/dev/null)"`;
            const output = await new Promise<string>((resolve) => {
              execFile(
                'script',
                ['-qec', command, '/dev/null'],
                { env: { PATH: '/usr/bin:/bin', HOME: home }, timeout: 90_000 },
                (_error, stdout, stderr) => resolve(stdout + stderr),
              );
            });
            const line = output.split(/\r?\n/).find((text) => text.startsWith('sti0:'));
            expect(line, output).toBeDefined();
            const results = Object.fromEntries(
              (line ?? '')
                .trim()
                .split(' ')
                .map((pair) => pair.split(':')),
            );
            expect(Object.keys(results).length, output).toBe(7);
            for (const [name, errno] of Object.entries(results)) {
              expect(errno, `${name} in ${output}`).not.toBe('INJECTED');
            }
            if (tier === 'hardened') {
              // The stdio there is the pty itself: the filter refuses both requests (EPERM) before
              // the terminal driver sees them, whatever the kernel's own TIOCSTI and TIOCLINUX rules.
              for (const name of ['sti0', 'sti1', 'sti2', 'linux0', 'linux1', 'linux2'])
                expect(results[name], `${name} in ${output}`).toBe('1');
            }
            // Nothing was queued on the terminal for the shell after the run to read.
            expect(output).not.toMatch(/after:.*#/);
          },
        );
      }
    }
  },
);
