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
import {
  ABSENT_SYSCALLS,
  AF_NETLINK,
  ALLOWED_PERSONAS,
  ALLOWED_SOCKET_FAMILIES,
  CLONE_NAMESPACE_FLAGS,
  DENIED_SYSCALLS,
  EAFNOSUPPORT,
  EINVAL,
  ENOMEM,
  ENOSYS,
  EPERM,
  F_SETLEASE,
  HUGETLB_FLAGS,
  type HugetlbFlag,
  SOCK_PACKET,
  SOCK_RAW,
  SOCK_TYPE_MASK,
  TIOCLINUX,
  TIOCSTI,
  UNSHARE_REFUSED_FLAGS,
} from './policy.js';
import { ARCH_TABLES, type ArchTable } from './syscalls.js';

const DENY = ret(SECCOMP_RET_ERRNO | EPERM);
const ALLOW = ret(SECCOMP_RET_ALLOW);

/**
 * A call that asks for the host's huge page pool (see HUGETLB_FLAGS) gets
 * ENOMEM; one the kernel would refuse as invalid first gets that EINVAL; any
 * other falls through to ALLOW. The accumulator holds the syscall number on
 * entry; each flag word is an int, its low half the whole of it.
 */
function hugetlbBlock(callNr: number, { argument, bit, invalid, creates }: HugetlbFlag): BpfInstruction[] {
  const ENOMEM_ = ret(SECCOMP_RET_ERRNO | ENOMEM);
  if (creates !== undefined)
    // Huge and asked to create, or IPC_PRIVATE (key 0): ENOMEM; a lookup of an existing key: the kernel's.
    return [
      jeq(callNr, 0, 7),
      load(argLow(argument)),
      jset(bit, 0, 4),
      jset(creates.flag, 2, 0),
      load(argLow(creates.key)),
      jeq(0, 0, 1),
      ENOMEM_,
      ALLOW,
    ];
  if (invalid === undefined)
    return [jeq(callNr, 0, 4), load(argLow(argument)), jset(bit, 0, 1), ENOMEM_, ALLOW];
  const invalidTest = invalid.when === 'set' ? jset(invalid.mask, 0, 1) : jset(invalid.mask, 1, 0);
  return [
    jeq(callNr, 0, 6),
    load(argLow(argument)),
    jset(bit, 0, 3),
    invalidTest,
    ret(SECCOMP_RET_ERRNO | EINVAL),
    ENOMEM_,
    ALLOW,
  ];
}

/**
 * socket() and socketpair(): a family outside ALLOWED_SOCKET_FAMILIES gets
 * EAFNOSUPPORT (before the kernel could autoload the family's module), and
 * SOCK_RAW/SOCK_PACKET of an allowed family EPERM, netlink excepted: its
 * SOCK_RAW and SOCK_DGRAM are one socket to the kernel (netlink_create takes
 * either and serves both alike), and glibc's getifaddrs(), behind Node's
 * os.networkInterfaces(), asks for SOCK_RAW. The accumulator holds the
 * syscall number on entry; any other call falls through.
 */
function socketBlock(socketNr: number): BpfInstruction[] {
  const typeChecked = Object.values(ALLOWED_SOCKET_FAMILIES).filter((family) => family !== AF_NETLINK);
  const typeCheck: BpfInstruction[] = [
    load(argLow(1)),
    and(SOCK_TYPE_MASK),
    jeq(SOCK_RAW, 1, 0),
    jeq(SOCK_PACKET, 0, 1),
    DENY,
    ALLOW,
  ];
  // Netlink jumps over the other family tests, the refusal and the type check but its final allow.
  const netlinkTest = jeq(AF_NETLINK, typeChecked.length + typeCheck.length, 0);
  // Each other family test jumps over the remaining tests and the refusal to the type check.
  const familyTests = typeChecked.map((family, index) => jeq(family, typeChecked.length - index, 0));
  const body = [
    load(argLow(0)),
    netlinkTest,
    ...familyTests,
    ret(SECCOMP_RET_ERRNO | EAFNOSUPPORT),
    ...typeCheck,
  ];
  return [jeq(socketNr, 0, body.length), ...body];
}

/**
 * personality(): a persona outside ALLOWED_PERSONAS gets EPERM (the kernel
 * reads it as a 32-bit int, so its low half is the whole of it). The
 * accumulator holds the syscall number on entry; any other call falls
 * through with it unchanged.
 */
function personalityBlock(personalityNr: number): BpfInstruction[] {
  // Each persona test jumps over the remaining tests and the refusal to the allow.
  const tests = ALLOWED_PERSONAS.map((persona, index) => jeq(persona, ALLOWED_PERSONAS.length - index, 0));
  const body = [load(argLow(0)), ...tests, DENY, ALLOW];
  return [jeq(personalityNr, 0, body.length), ...body];
}

/** Instructions for one architecture; the accumulator holds the syscall number on entry. */
function archBlock(table: ArchTable): BpfInstruction[] {
  const block: BpfInstruction[] = [load(SECCOMP_DATA_NR)];
  if (table.x32Bit !== undefined) block.push(jge(table.x32Bit, 0, 1), DENY);
  for (const name of Object.keys(DENIED_SYSCALLS)) {
    const nr = table.numbers[name];
    if (nr !== undefined) block.push(jeq(nr, 0, 1), DENY);
  }
  for (const name of Object.keys(ABSENT_SYSCALLS)) {
    const nr = table.numbers[name];
    if (nr !== undefined) block.push(jeq(nr, 0, 1), ret(SECCOMP_RET_ERRNO | ENOSYS));
  }
  const nr = (name: string): number => {
    const value = table.numbers[name];
    if (value === undefined) throw new Error(`no ${name} syscall number for ${table.arch}`);
    return value;
  };
  // clone3 passes flags in memory a filter cannot read; ENOSYS makes libc fall back to clone.
  block.push(jeq(nr('clone3'), 0, 1), ret(SECCOMP_RET_ERRNO | ENOSYS));
  block.push(jeq(nr('clone'), 0, 4), load(argLow(0)), jset(CLONE_NAMESPACE_FLAGS, 0, 1), DENY, ALLOW);
  // unshare: EPERM only for a new namespace (see UNSHARE_REFUSED_FLAGS); its flags' high half is EINVAL to the kernel.
  block.push(jeq(nr('unshare'), 0, 4), load(argLow(0)), jset(UNSHARE_REFUSED_FLAGS, 0, 1), DENY, ALLOW);
  block.push(...socketBlock(nr('socket')), ...socketBlock(nr('socketpair')));
  block.push(...personalityBlock(nr('personality')));
  // No huge pages of the host's pool (see HUGETLB_FLAGS); each flag word is an int, its low half the whole of it.
  for (const [name, flag] of Object.entries(HUGETLB_FLAGS)) block.push(...hugetlbBlock(nr(name), flag));
  // No leases (see F_SETLEASE); the command is an unsigned int, so its low half is the whole of it.
  block.push(
    jeq(nr('fcntl'), 0, 4),
    load(argLow(1)),
    jeq(F_SETLEASE, 0, 1),
    ret(SECCOMP_RET_ERRNO | EINVAL),
    ALLOW,
  );
  // The kernel reads the request as a 32-bit int, so its low half is the whole of it.
  block.push(jeq(nr('ioctl'), 0, 4), load(argLow(1)), jeq(TIOCSTI, 1, 0), jeq(TIOCLINUX, 0, 1), DENY);
  block.push(ALLOW);
  return block;
}

/**
 * The hardened tier's filter: dispatch on the architecture (anything else,
 * such as 32-bit compat calls on x86_64, is killed), refuse the calls in
 * DENIED_SYSCALLS with EPERM, answer ABSENT_SYSCALLS with ENOSYS, inspect
 * clone/unshare/socket/ioctl/fcntl/personality arguments (a new namespace gets EPERM) (socket families outside
 * ALLOWED_SOCKET_FAMILIES get EAFNOSUPPORT, personas outside ALLOWED_PERSONAS
 * EPERM) and the HUGETLB_FLAGS of mmap/memfd_create/shmget (ENOMEM), allow the rest.
 */
export function buildSeccompFilter(tables: readonly ArchTable[] = ARCH_TABLES): BpfInstruction[] {
  const blocks = tables.map(archBlock);
  const program: BpfInstruction[] = [load(SECCOMP_DATA_ARCH)];
  // Each dispatch jumps over the remaining dispatches, the kill, and the blocks before its own.
  let skip = tables.length - 1 + 1;
  tables.forEach((table, index) => {
    program.push(jeq(table.auditArch, skip, 0));
    skip += (blocks[index]?.length ?? 0) - 1;
  });
  program.push(ret(SECCOMP_RET_KILL_PROCESS));
  for (const block of blocks) program.push(...block);
  return program;
}
