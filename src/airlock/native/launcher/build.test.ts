import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLauncher, DEFAULT_COMPILER } from './build.js';

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
    const built = buildLauncher(compiler);
    const added = readdirSync(dirname(built)).filter((name) => !before.has(name));
    cleanup.push(...added.map((name) => join(dirname(built), name)));
    expect(dynamicallyLinked(built)).toBe(true);
    expect(execFileSync(built, ['--', '/bin/echo', 'ran']).toString()).toBe('ran\n');
    expect(readFileSync(calls, 'utf8')).toBe('run\nrun\n');
    expect(added.filter((name) => name.endsWith('.no-static'))).toHaveLength(1);
    expect(buildLauncher(compiler)).toBe(built);
    expect(readFileSync(calls, 'utf8')).toBe('run\nrun\n');
  });
});
