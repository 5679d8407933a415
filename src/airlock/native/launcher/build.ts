import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OacpError } from '../../../core/errors.js';
import type { NativeErrorCode } from '../errors.js';
import { COMPILER_ENV } from './compiler-env.js';
import { MUSL_WRAPPER, type MuslSetup, muslSetup, muslSpecs } from './musl.js';
import { safeDirectory } from './safe-directory.js';
import { LAUNCHER_SOURCE } from './source.js';

export const DEFAULT_COMPILER = '/usr/bin/cc';
export { COMPILER_ENV } from './compiler-env.js';

/** Flags are part of the cache key: the same source and flags give the same program. */
const FLAGS = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror'];

/**
 * Added for a program that prefers it (the launcher): it is exec'd twice per
 * hardened start, and a static program skips the dynamic loader (finding,
 * mapping and relocating libc). Position-independent, so its code is still
 * placed at a random address as the dynamic build's is. Hosts without glibc's
 * static libc (libc.a, rcrt1.o) cannot link it:
 * the dynamic build is used there, and a marker next to where the static one
 * would be says so, so later starts do not try again (remove the marker, or
 * the cache, after installing libc6-dev's static part to retry).
 */
const STATIC_FLAGS = ['-static-pie'];

/**
 * Tried before glibc's static link where musl is installed (MUSL_WRAPPER): on
 * a VM every cpuid traps to the hypervisor, and glibc's start-up runs several
 * (cache and CPU feature detection) on each of the launcher's two execs a
 * start; musl's runs none (docs/hardened-tier.md). A host where the musl build
 * fails gets a `.no-musl` marker like `.no-static`, then glibc's chain.
 */
const MUSL_KEY = `musl static-pie\0${muslSpecs('TRIPLE')}`;

/** Which C library a built helper was linked against, and how. */
export interface BuiltProgram {
  readonly path: string;
  readonly libc: 'musl' | 'glibc';
  readonly linkage: 'static-pie' | 'dynamic';
}

/** One small C program OACP builds from source on first use (the launcher, the gVisor compat library). */
export interface HelperProgram {
  /** File name prefix in the cache, also named in errors. */
  readonly name: string;
  readonly source: string;
  /** Added to FLAGS (e.g. -shared -fPIC for a library). */
  readonly flags?: readonly string[];
  /** Link statically when the host can, else dynamically (see STATIC_FLAGS). */
  readonly preferStatic?: boolean;
}

/**
 * Where the launcher cache is for this user, made or not: the programs and
 * filters every later sandbox (and the light tier's guard, on the host)
 * starts through, so no writable grant may reach it (prepare.ts).
 */
export function launcherCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return process.getuid?.() === 0
    ? '/var/cache/oacp/launcher'
    : join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'oacp', 'launcher');
}

/** Ours and nobody else can write it (a regular file or directory); anything else is never trusted. */
export function ownedAndClosed(path: string, kind: 'file' | 'directory'): boolean {
  try {
    const stat = lstatSync(path);
    const rightKind = kind === 'file' ? stat.isFile() : stat.isDirectory();
    return rightKind && stat.uid === (process.getuid?.() ?? stat.uid) && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The cached program and its directory are ours and closed to others: otherwise it is rebuilt. */
export function trustworthy(path: string): boolean {
  return ownedAndClosed(dirname(path), 'directory') && ownedAndClosed(path, 'file');
}

/**
 * The helpers' cache directory (other measured host facts are kept there too), made if missing, when
 * no other user can change it (safeDirectory): as root /var/cache/oacp (0755: sandboxes run as the
 * grants' owner, who must be able to exec what is there), else the user's cache (0700). Undefined
 * where it cannot be made or is not safe: never a directory another user could have prepared.
 */
export function trustedCacheDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = launcherCacheDirectory(env);
  try {
    mkdirSync(dir, { recursive: true, mode: process.getuid?.() === 0 ? 0o755 : 0o700 });
  } catch {
    return undefined;
  }
  return safeDirectory(dir);
}

/**
 * A private directory for helpers where no cache is safe (none where one is), removed (with what was
 * built into it) once `use` returns: 0755, as the cache's, so a sandbox user can exec what is built there.
 */
export function withScratch<T>(use: (scratch: string | undefined) => T): T {
  if (trustedCacheDirectory() !== undefined) return use(undefined);
  const scratch = makeScratch();
  try {
    return use(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * See withScratch: the caller removes it. Refused under a TMPDIR where another user could rename it
 * and put a directory of their own in its place between the build and the exec (safeDirectory).
 */
export function makeScratch(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'oacp-launcher-'));
  chmodSync(scratch, 0o755);
  const safe = safeDirectory(scratch);
  if (safe !== undefined) return safe;
  rmSync(scratch, { recursive: true, force: true });
  throw new OacpError<NativeErrorCode>(
    'AIRLOCK_TIER_UNAVAILABLE',
    `no safe place to build the launcher: the launcher cache ${launcherCacheDirectory()} cannot be used and another user could replace what is built under TMPDIR ${tmpdir()}: set XDG_CACHE_HOME, or TMPDIR, to a directory only you (or root) can write, or a sticky one such as /tmp`,
  );
}

/**
 * The path of oacp-launch, compiled from LAUNCHER_SOURCE with the host's C
 * compiler on first use and cached by a hash of source, compiler and flags.
 * A missing compiler is a refusal naming the fix: the confined tiers never
 * start a workload without the launcher closing descriptors and installing
 * the workload filter.
 */
export function buildLauncher(
  compiler = DEFAULT_COMPILER,
  env: NodeJS.ProcessEnv = process.env,
  muslWrapper = MUSL_WRAPPER,
  scratch?: string,
): string {
  return launcherBuild(compiler, env, muslWrapper, scratch).path;
}

/** The launcher as buildLauncher finds or builds it, with the C library it was linked against (oacp doctor). */
export function launcherBuild(
  compiler = DEFAULT_COMPILER,
  env: NodeJS.ProcessEnv = process.env,
  muslWrapper = MUSL_WRAPPER,
  scratch?: string,
): BuiltProgram {
  return buildProgram(
    { name: 'oacp-launch', source: LAUNCHER_SOURCE, preferStatic: true },
    compiler,
    env,
    muslWrapper,
    scratch,
  );
}

/** Builds (or finds in the cache) one helper program; see buildLauncher. */
export function buildHelper(
  helper: HelperProgram,
  compiler = DEFAULT_COMPILER,
  env: NodeJS.ProcessEnv = process.env,
  scratch?: string,
): string {
  return buildProgram(helper, compiler, env, MUSL_WRAPPER, scratch).path;
}

/**
 * Built in the trusted cache, once; where no cache is safe, in `scratch` (a private directory from
 * makeScratch that the caller removes once the program is no longer needed); with neither, refused.
 */
function buildProgram(
  helper: HelperProgram,
  compiler: string,
  env: NodeJS.ProcessEnv,
  muslWrapper: string,
  scratch: string | undefined,
): BuiltProgram {
  const flags = [...FLAGS, ...(helper.flags ?? [])];
  const dir = trustedCacheDirectory(env) ?? scratch;
  if (dir === undefined)
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `the launcher cache ${launcherCacheDirectory(env)} cannot be made, or another user could change it: set XDG_CACHE_HOME to a directory only you can write`,
    );
  if (helper.preferStatic === true) {
    const staticFlags = [...flags, ...STATIC_FLAGS];
    const musl = cachePath(dir, helper, `${compiler}\0${MUSL_KEY}`, staticFlags);
    if (trustworthy(musl)) return { path: musl, libc: 'musl', linkage: 'static-pie' };
    const noMusl = `${musl}.no-musl`;
    if (existsSync(muslWrapper) && !ownedAndClosed(noMusl, 'file')) {
      const built = compile(helper, compiler, staticFlags, dir, musl, (work) => muslSetup(compiler, work));
      if (built.ok) return { path: musl, libc: 'musl', linkage: 'static-pie' };
      writeFileSync(noMusl, `${built.detail}\n`, { mode: 0o644 });
    }
    const target = cachePath(dir, helper, compiler, staticFlags);
    if (trustworthy(target)) return { path: target, libc: 'glibc', linkage: 'static-pie' };
    const marker = `${target}.no-static`;
    if (!ownedAndClosed(marker, 'file')) {
      const built = compile(helper, compiler, staticFlags, dir, target);
      if (built.ok) return { path: target, libc: 'glibc', linkage: 'static-pie' };
      writeFileSync(marker, `${built.detail}\n`, { mode: 0o644 });
    }
  }
  const target = cachePath(dir, helper, compiler, flags);
  const program: BuiltProgram = { path: target, libc: 'glibc', linkage: 'dynamic' };
  if (trustworthy(target)) return program;
  const built = compile(helper, compiler, flags, dir, target);
  if (built.ok) return program;
  throw new OacpError<NativeErrorCode>(
    'AIRLOCK_TIER_UNAVAILABLE',
    `cannot build the launcher (${helper.name}) with ${compiler}: ${built.detail}`,
  );
}

/** Where the program built from this source, compiler and flags is cached. */
function cachePath(dir: string, helper: HelperProgram, compiler: string, flags: readonly string[]): string {
  const key = createHash('sha256')
    .update(`${compiler}\0${flags.join(' ')}\0${helper.source}`)
    .digest('hex')
    .slice(0, 16);
  return join(dir, `${helper.name}-${key}`);
}

/**
 * Compiles into `target` (atomically); a compiler that fails gives its first line of output. A
 * missing compiler is a refusal naming the fix. `setUp` adds flags from files it makes in the
 * build's private directory (removed after), or says why it cannot.
 */
function compile(
  helper: HelperProgram,
  compiler: string,
  flags: readonly string[],
  dir: string,
  target: string,
  setUp: (work: string) => MuslSetup = () => ({ ok: true, flags: [] }),
): { ok: true } | { ok: false; detail: string } {
  if (!existsSync(compiler)) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `the confined tiers build their launcher (${helper.name}) from source once and need a C compiler: ${compiler} not found (apt-get install gcc)`,
    );
  }
  const work = mkdtempSync(join(dir, '.build-'));
  try {
    const source = join(work, `${helper.name}.c`);
    writeFileSync(source, helper.source, { mode: 0o644 });
    const output = join(work, helper.name);
    try {
      const extra = setUp(work);
      if (!extra.ok) return extra;
      execFileSync(compiler, [...flags, ...extra.flags, '-o', output, source], {
        stdio: 'pipe',
        timeout: 60_000,
        env: { ...COMPILER_ENV, TMPDIR: work },
      });
    } catch (error) {
      const detail = (error as { stderr?: Buffer }).stderr?.toString().split('\n')[0] ?? String(error);
      return { ok: false, detail };
    }
    chmodSync(output, 0o755);
    rmSync(target, { force: true });
    // Rename is atomic: a concurrent start sees the old state or a complete program.
    renameSync(output, target);
    return { ok: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
