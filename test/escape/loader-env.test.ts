import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9, item 3 (environment): `--allow-env LD_PRELOAD` (or LD_LIBRARY_PATH,
 * LD_AUDIT, GCONV_PATH…) named a library for the workload, but the variables
 * were in the environment OACP's launcher and bwrap were started with, on the
 * host, before any namespace or filter: their dynamic loader ran the library's
 * code there (as root when OACP is root), and a library in a writable grant is
 * the workload's to replace between two starts (a restarted server, the next
 * session). Inside the sandbox, the launcher ran it before installing the
 * workload filter. The variables now reach the workload's own exec alone.
 *
 * The library says which program loaded it: on stderr (read through the
 * sandbox's stderr) and in a marker file on the host that no grant reaches.
 * OACP's own node loads it too, from the operator's environment: that is not
 * the sandbox's doing and is allowed.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
  light: true,
};
const WORKLOAD = realpathSync('/bin/sh');
const NODE = realpathSync(process.execPath);
const SETPRIV = '/usr/bin/setpriv';

describe('dynamic-loader variables reach the workload, never the launcher or bwrap', () => {
  const root = openDir('oacp-loader-env-');
  const lib = join(root, 'lib');
  const hook = join(lib, 'hook.so');
  const markers = join(root, 'markers');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(() => {
    execFileSync('/bin/mkdir', ['-m', '0755', lib]);
    execFileSync('/bin/mkdir', ['-m', '0777', markers]);
    chmodSync(markers, 0o777);
    const source = join(root, 'hook.c');
    writeFileSync(
      source,
      `#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {
  char exe[512] = {0};
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) exe[0] = '?';
  dprintf(2, "HOOK exe=%s\\n", exe);
  int fd = open("${join(markers, 'loaded')}", O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd >= 0) { dprintf(fd, "%s\\n", exe); close(fd); }
}
`,
    );
    execFileSync('/usr/bin/cc', ['-shared', '-fPIC', '-o', hook, source]);
    chmodSync(hook, 0o755);
  });

  for (const tier of ['hardened', 'gvisor', 'light'] as const) {
    for (const user of ATTACKERS) {
      it.skipIf(!available[tier] || !existsSync('/usr/bin/cc'))(
        `${tier}, ${who(user)}: LD_PRELOAD is loaded by the workload alone, not by the launcher or bwrap on the host`,
        async () => {
          // The launcher is built (with the operator's environment, as OACP's own node runs) before the attack.
          const cache = join(root, `cache-${user?.uid ?? 'invoker'}`);
          if (!existsSync(cache)) {
            execFileSync('/bin/mkdir', ['-m', '0700', cache]);
            if (user !== undefined) chownSync(cache, user.uid, user.gid);
          }
          const asUser = user === undefined ? {} : { asUser: user };
          const warm = await oacpCli(['run', '--tier', tier, '--', '/bin/true'], {
            env: { HOME: root, XDG_CACHE_HOME: cache },
            ...asUser,
          });
          expect(warm.code, warm.stderr).toBe(0);
          // Writable by whoever loads the library (umask would leave a file created by setpriv as root 0644).
          writeFileSync(join(markers, 'loaded'), '');
          chmodSync(join(markers, 'loaded'), 0o666);
          const result = await oacpCli(
            [
              'run',
              '--tier',
              tier,
              '--allow-env',
              'LD_PRELOAD',
              '--allow-files',
              `${lib}:ro`,
              '--',
              '/bin/sh',
              '-c',
              // Builtins only: every program that loads the library is named on stderr.
              'echo "preload=$LD_PRELOAD"; case "$(export -p)" in *OACP_*) echo renamed;; *) echo clean;; esac',
            ],
            { env: { LD_PRELOAD: hook, HOME: root, XDG_CACHE_HOME: cache }, ...asUser },
          );
          expect(result.code, result.stderr).toBe(0);
          // The workload has the variable under its own name, and nothing of the renaming shows.
          expect(result.stdout).toContain(`preload=${hook}\nclean\n`);
          const inSandbox = [...result.stderr.matchAll(/^HOOK exe=(.*)$/gm)].map((match) => match[1]);
          expect(inSandbox).toContain(WORKLOAD);
          const onHost = readFileSync(join(markers, 'loaded'), 'utf8').split('\n').filter(Boolean);
          // The light tier has no file isolation: its workload writes the marker as well; setpriv is this test's.
          const allowed = new Set([NODE, WORKLOAD, SETPRIV]);
          expect([...inSandbox, ...onHost].filter((exe) => !allowed.has(exe ?? ''))).toEqual([]);
          // The marker works: OACP's own node, started with the operator's LD_PRELOAD, wrote it.
          expect(onHost).toContain(NODE);
        },
      );
    }
  }
});
