import {
  and,
  argLow,
  type BpfInstruction,
  jeq,
  jge,
  jset,
  load,
  ret,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
} from './bpf.js';
import { ENOSYS, EPERM } from './policy.js';
import { ARCH_TABLES, type ArchTable } from './syscalls.js';

/** setuid and setgid mode bits. */
export const SET_ID_BITS = 0o6000;
export const S_IFMT = 0o170000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const AF_UNIX = 1;

/** Which argument carries the mode for each call that can set mode bits on a host file. */
const MODE_ARGUMENT: Readonly<Record<string, number>> = {
  chmod: 1,
  fchmod: 1,
  fchmodat: 2,
  fchmodat2: 2,
  creat: 1,
};
/**
 * open() and openat(): which arguments carry the flags and the mode. The
 * kernel reads the mode only when the call can create (O_CREAT or
 * O_TMPFILE, its WILL_CREATE) and ignores it otherwise, so the filter checks
 * it only then: runtimes that pass a mode with every open (Rust's std, libuv,
 * Go's syscall.Open) may carry a copied file's set-id bits into a plain
 * O_RDONLY open, which the kernel serves and EPERM would break.
 */
const OPEN_ARGUMENTS: Readonly<Record<string, { readonly flags: number; readonly mode: number }>> = {
  open: { flags: 1, mode: 2 },
  openat: { flags: 2, mode: 3 },
};
/** O_CREAT | __O_TMPFILE, the same bits on x86_64 and aarch64. */
export const OPEN_CREATE_FLAGS = 0o100 | 0o20000000;
const MKNOD_MODE_ARGUMENT: Readonly<Record<string, number>> = { mknod: 1, mknodat: 2 };

const DENY = ret(SECCOMP_RET_ERRNO | EPERM);
const ALLOW = ret(SECCOMP_RET_ALLOW);

function archBlock(table: ArchTable, options: WorkloadFilterOptions): BpfInstruction[] {
  const block: BpfInstruction[] = [load(SECCOMP_DATA_NR)];
  if (table.x32Bit !== undefined) block.push(jge(table.x32Bit, 0, 1), DENY);
  const nr = (name: string): number | undefined => table.numbers[name];
  for (const [name, index] of Object.entries(MODE_ARGUMENT)) {
    const number = nr(name);
    if (number === undefined) continue;
    // Not this call: skip the check; otherwise deny when a set-id bit is asked for, else allow.
    block.push(jeq(number, 0, 4), load(argLow(index)), jset(SET_ID_BITS, 0, 1), DENY, ALLOW);
  }
  for (const [name, { flags, mode }] of Object.entries(OPEN_ARGUMENTS)) {
    const number = nr(name);
    if (number === undefined) continue;
    // Not this call: skip the check; a call that cannot create is allowed; else as above.
    block.push(
      jeq(number, 0, 6),
      load(argLow(flags)),
      jset(OPEN_CREATE_FLAGS, 0, 3),
      load(argLow(mode)),
      jset(SET_ID_BITS, 0, 1),
      DENY,
      ALLOW,
    );
  }
  for (const [name, index] of Object.entries(MKNOD_MODE_ARGUMENT)) {
    const number = nr(name);
    if (number === undefined) continue;
    block.push(
      jeq(number, 0, 8),
      load(argLow(index)),
      jset(SET_ID_BITS, 0, 1),
      DENY,
      and(S_IFMT),
      jeq(S_IFCHR, 1, 0),
      jeq(S_IFBLK, 0, 1),
      DENY,
      ALLOW,
    );
  }
  // The helpers started before the workload (the egress forwarder) are not filtered: never let it drive them.
  for (const name of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd']) {
    const number = nr(name);
    if (number !== undefined) block.push(jeq(number, 0, 1), DENY);
  }
  // openat2 passes its mode in memory a filter cannot read; ENOSYS makes callers fall back to openat.
  const openat2 = nr('openat2');
  if (openat2 !== undefined) block.push(jeq(openat2, 0, 1), ret(SECCOMP_RET_ERRNO | ENOSYS));
  const socket = nr('socket');
  if (socket !== undefined && !options.unixSockets)
    block.push(jeq(socket, 0, 3), load(argLow(0)), jeq(AF_UNIX, 0, 1), DENY);
  block.push(ALLOW);
  return block;
}

export interface WorkloadFilterOptions {
  /**
   * Allow socket(AF_UNIX). Only where no host socket is reachable by path:
   * gVisor with `--host-uds=none` (no network allowlist), whose sentry keeps
   * every Unix socket inside the sandbox. Never in the hardened tier: the
   * host kernel would connect to any socket inode bound in (see
   * docs/hardened-tier.md, "Unix sockets").
   */
  readonly unixSockets: boolean;
}

/**
 * The filter the launcher installs right before the workload's exec, in both
 * confined tiers (the gVisor sentry implements seccomp too), after helpers
 * such as the egress forwarder have their sockets:
 * - no setuid/setgid bit can be set on any file (chmod family, the mode of
 *   an open/openat that can create, creat, mknod), and no device node can be made, so a grant can never carry
 *   a privileged file back to the host whoever owns it there;
 * - no socket(AF_UNIX) unless `options.unixSockets`: a host Unix socket
 *   inside a grant cannot be reached (socketpair and pipes, which reach no
 *   path, still work);
 * - no ptrace, process_vm_readv/writev or pidfd_getfd, so the unfiltered
 *   helpers started earlier (the egress forwarder) cannot be driven (the
 *   launcher's Landlock domain also closes /proc/PID/mem where the kernel has it).
 * Other architectures are killed, as in the base filter.
 */
export function buildWorkloadFilter(
  tables: readonly ArchTable[] = ARCH_TABLES,
  options: WorkloadFilterOptions = { unixSockets: false },
): BpfInstruction[] {
  const blocks = tables.map((table) => archBlock(table, options));
  const program: BpfInstruction[] = [load(SECCOMP_DATA_ARCH)];
  let skip = tables.length;
  tables.forEach((table, index) => {
    program.push(jeq(table.auditArch, skip, 0));
    skip += (blocks[index]?.length ?? 0) - 1;
  });
  program.push(ret(SECCOMP_RET_KILL_PROCESS));
  for (const block of blocks) program.push(...block);
  return program;
}
