import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLauncher, DEFAULT_COMPILER, launcherBuild, makeScratch } from './build.js';
import { MUSL_WRAPPER } from './musl.js';

/** Whether an ELF program is position-independent (ET_DYN), i.e. loaded at a random address. */
function positionIndependent(path: string): boolean {
  return readFileSync(path).readUInt16LE(0x10) === 3;
}

/** Whether an ELF program names a dynamic loader (a PT_INTERP program header): not statically linked. */
function dynamicallyLinked(path: string): boolean {
  const elf = readFileSync(path);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let index = 0; index < phnum; index++) {
    if (elf.readUInt32LE(phoff + index * phentsize) === 3) return true;
  }
  return false;
}

/** glibc's static libc, as the compiler finds it (it prints the bare name when it has none). */
const staticLibc = execFileSync(DEFAULT_COMPILER, ['-print-file-name=libc.a']).toString().trim();

/** Whether the host has musl (musl-tools), which the launcher is linked against first. */
const musl = existsSync(MUSL_WRAPPER);

/** Whether an ELF program carries musl (its source path is in the debug strings; glibc's strings never name musl). */
function linkedWithMusl(path: string): boolean {
  return readFileSync(path).includes('musl');
}

describe('buildLauncher', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'oacp-build-test-'));
  const cleanup: string[] = [];
  afterAll(() => {
    for (const path of cleanup) rmSync(path, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses with the remedy when there is no C compiler', () => {
    expect(() => buildLauncher('/nonexistent/cc')).toThrow(
      expect.objectContaining({
        code: 'AIRLOCK_TIER_UNAVAILABLE',
        message: expect.stringContaining('/nonexistent/cc not found (apt-get install gcc)'),
      }),
    );
  });

  it('attack: no private build under a TMPDIR others may write (not sticky): refused, naming TMPDIR, nothing left', () => {
    const shared = join(scratch, 'shared-tmp');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = shared;
    try {
      expect(() => makeScratch()).toThrow(
        expect.objectContaining({
          code: 'AIRLOCK_TIER_UNAVAILABLE',
          message: expect.stringContaining(`TMPDIR ${shared}`),
        }),
      );
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
    expect(readdirSync(shared)).toEqual([]);
  });

  it('builds once, reuses the cached program, and rebuilds one that others could write', () => {
    const first = buildLauncher();
    expect(buildLauncher()).toBe(first);
    const built = statSync(first).mtimeMs;
    chmodSync(first, 0o777);
    const again = buildLauncher();
    expect(again).toBe(first);
    expect(statSync(again).mode & 0o022).toBe(0);
    expect(statSync(again).mtimeMs).toBeGreaterThanOrEqual(built);
  });

  it.skipIf(!staticLibc.startsWith('/'))(
    'links the launcher statically where the host has a static libc (no dynamic loader on each of its two execs a start)',
    () => {
      const built = buildLauncher();
      expect(dynamicallyLinked(built)).toBe(false);
      // Static, and still at a random address (-static-pie): no hardening traded for the speed.
      expect(positionIndependent(built)).toBe(true);
    },
  );

  it('attack: a host whose static link fails gets the dynamic launcher, and later starts do not try the static link again', () => {
    // A compiler that cannot link statically (no libc.a), counting its runs.
    const calls = join(scratch, 'calls');
    const compiler = join(scratch, 'cc-without-libc.a');
    writeFileSync(
      compiler,
      `#!/bin/sh\necho run >> ${calls}\ncase " $* " in *" -static-pie "*) echo "ld: cannot find -lc" >&2; exit 1;; esac\nexec ${DEFAULT_COMPILER} "$@"\n`,
      { mode: 0o755 },
    );
    const before = new Set(readdirSync(dirname(buildLauncher())));
    // No musl on this host (a wrapper that is not there): glibc's chain alone.
    const built = buildLauncher(compiler, process.env, join(scratch, 'no-musl-gcc'));
    const added = readdirSync(dirname(built)).filter((name) => !before.has(name));
    cleanup.push(...added.map((name) => join(dirname(built), name)));
    expect(dynamicallyLinked(built)).toBe(true);
    expect(execFileSync(built, ['--', '/bin/echo', 'ran']).toString()).toBe('ran\n');
    expect(readFileSync(calls, 'utf8')).toBe('run\nrun\n');
    expect(added.filter((name) => name.endsWith('.no-static'))).toHaveLength(1);
    expect(buildLauncher(compiler, process.env, join(scratch, 'no-musl-gcc'))).toBe(built);
    expect(readFileSync(calls, 'utf8')).toBe('run\nrun\n');
  });

  it.skipIf(!musl)(
    'links the launcher against musl where the host has it (glibc start-up runs cpuid, which traps on a VM), static and position-independent',
    () => {
      const built = launcherBuild();
      expect(built).toMatchObject({ libc: 'musl', linkage: 'static-pie' });
      expect(linkedWithMusl(built.path)).toBe(true);
      // musl-gcc's own specs would name musl's dynamic loader for -static-pie: this one has none.
      expect(dynamicallyLinked(built.path)).toBe(false);
      expect(positionIndependent(built.path)).toBe(true);
      expect(execFileSync(built.path, ['--', '/bin/echo', 'ran']).toString()).toBe('ran\n');
    },
  );

  it.skipIf(!musl)(
    'attack: a musl build that fails (its headers gone) falls back to glibc static-pie, once, and the musl try is given only its private specs and kernel-header links',
    () => {
      // A compiler whose musl builds fail as they would without the kernel headers; it logs every run's flags.
      const calls = join(scratch, 'musl-calls');
      const compiler = join(scratch, 'cc-musl-broken');
      writeFileSync(
        compiler,
        `#!/bin/sh\necho "$*" >> ${calls}\ncase " $* " in *" -specs="*) echo "fatal error: linux/filter.h: No such file" >&2; exit 1;; esac\nexec ${DEFAULT_COMPILER} "$@"\n`,
        { mode: 0o755 },
      );
      const before = new Set(readdirSync(dirname(buildLauncher())));
      const built = launcherBuild(compiler);
      const added = readdirSync(dirname(built.path)).filter((name) => !before.has(name));
      cleanup.push(...added.map((name) => join(dirname(built.path), name)));
      expect(built.libc).toBe('glibc');
      expect(execFileSync(built.path, ['--', '/bin/echo', 'ran']).toString()).toBe('ran\n');
      const runs = readFileSync(calls, 'utf8').trim().split('\n');
      // -print-multiarch, the musl try, then glibc's static link.
      expect(runs).toHaveLength(3);
      expect(runs[0]).toBe('-print-multiarch');
      // The musl try names only its private specs and kernel-header links, never /usr/include itself.
      expect(runs[1]).toMatch(
        /-specs=\S*\/\.build-[^/ ]+\/musl\.specs -isystem \S*\/\.build-[^/ ]+\/kernel-headers /,
      );
      expect(runs[1]).not.toContain('/usr/include');
      expect(added.filter((name) => name.endsWith('.no-musl'))).toHaveLength(1);
      // Later starts do not try musl again; the private build directory is gone.
      expect(launcherBuild(compiler).path).toBe(built.path);
      expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(3);
      expect(readdirSync(dirname(built.path)).filter((name) => name.startsWith('.build-'))).toHaveLength(0);
    },
  );
});
