import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPILER_ENV } from './compiler-env.js';

/**
 * Debian's musl-tools installs it: its presence says musl's static libc and
 * headers are there. OACP does not compile through it: for -static-pie its
 * specs still link Scrt1.o and name musl's dynamic loader (a dynamic program);
 * the host compiler is given specs of OACP's own (muslSpecs) instead.
 */
export const MUSL_WRAPPER = '/usr/bin/musl-gcc';

/**
 * gcc specs that build a static-pie program against musl (`musl` is its
 * triple, e.g. x86_64-linux-musl): musl's headers and gcc's own only (no
 * glibc header), rcrt1.o (which relocates the program itself) and no dynamic
 * loader. The template is part of the cache key.
 */
export function muslSpecs(musl: string): string {
  const include = `/usr/include/${musl}`;
  const lib = `/usr/lib/${musl}`;
  return [
    '%rename cpp_options old_cpp_options',
    '',
    '*cpp_options:',
    `-nostdinc -isystem ${include} -isystem include%s %(old_cpp_options)`,
    '',
    '*cc1:',
    `%(cc1_cpu) -nostdinc -isystem ${include} -isystem include%s`,
    '',
    '*link_libgcc:',
    `-L${lib} -L .%s`,
    '',
    '*libgcc:',
    'libgcc.a%s %:if-exists(libgcc_eh.a%s)',
    '',
    '*startfile:',
    `${lib}/rcrt1.o ${lib}/crti.o crtbeginS.o%s`,
    '',
    '*endfile:',
    `crtendS.o%s ${lib}/crtn.o`,
    '',
    '*link:',
    '-nostdlib -static -pie --no-dynamic-linker -z text',
    '',
  ].join('\n');
}

/** What one build against musl adds to the compiler's flags, or why it cannot. */
export type MuslSetup = { ok: true; flags: string[] } | { ok: false; detail: string };

/**
 * Prepares a musl build in `work` (the build's private directory, removed
 * after): the specs file, and a directory of symlinks to the host's kernel
 * headers (linux/, asm/, asm-generic/ only: musl has none of its own, and the
 * rest of /usr/include is glibc's). The architecture's asm/ is found the way
 * the host's compiler finds it (its multiarch triple). Anything missing is a
 * reason, and the caller falls back to glibc.
 */
export function muslSetup(compiler: string, work: string): MuslSetup {
  const multiarch = execFileSync(compiler, ['-print-multiarch'], {
    stdio: 'pipe',
    timeout: 60_000,
    env: { ...COMPILER_ENV, TMPDIR: work },
  })
    .toString()
    .trim();
  if (!/^[a-z0-9_]+-linux-gnu[a-z0-9_]*$/.test(multiarch))
    return { ok: false, detail: `${compiler} -print-multiarch names no GNU/Linux triple` };
  const musl = multiarch.replace('-linux-gnu', '-linux-musl');
  const headers: Record<string, string> = {
    linux: '/usr/include/linux',
    asm: `/usr/include/${multiarch}/asm`,
    'asm-generic': '/usr/include/asm-generic',
  };
  const needed = [
    ...['rcrt1.o', 'crti.o', 'crtn.o', 'libc.a'].map((file) => `/usr/lib/${musl}/${file}`),
    `/usr/include/${musl}/stdio.h`,
    ...Object.values(headers),
  ];
  const missing = needed.filter((path) => !existsSync(path));
  if (missing.length > 0)
    return { ok: false, detail: `no ${missing.join(', ')} (apt-get install musl-tools linux-libc-dev)` };
  const kernel = join(work, 'kernel-headers');
  mkdirSync(kernel, { mode: 0o755 });
  for (const [name, target] of Object.entries(headers)) symlinkSync(target, join(kernel, name));
  const specs = join(work, 'musl.specs');
  writeFileSync(specs, muslSpecs(musl), { mode: 0o644 });
  return { ok: true, flags: [`-specs=${specs}`, '-isystem', kernel] };
}
