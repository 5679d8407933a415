/**
 * What the hardened tier's seccomp filter refuses. Each entry says why, so the
 * docs and the refusal tests stay tied to the reason.
 */
export const DENIED_SYSCALLS: Readonly<Record<string, string>> = {
  ptrace: 'inspect or alter other processes',
  process_vm_readv: 'read another process memory',
  process_vm_writev: 'write another process memory',
  pidfd_getfd: 'steal file descriptors from another process',
  process_madvise: 'act on another process memory',
  kcmp: 'probe other processes kernel objects',
  mount: 'change the mount table',
  umount2: 'change the mount table',
  pivot_root: 'change the root',
  chroot: 'change the root',
  open_tree: 'new mount API',
  move_mount: 'new mount API',
  fsopen: 'new mount API',
  fsconfig: 'new mount API',
  fsmount: 'new mount API',
  fspick: 'new mount API',
  mount_setattr: 'new mount API',
  open_tree_attr: 'new mount API (open_tree with mount attributes, Linux 6.15)',
  setns: 'join namespaces',
  bpf: 'load eBPF programs',
  perf_event_open: 'performance counters (kernel attack surface, side channels)',
  userfaultfd: 'stall the kernel for exploit races',
  io_uring_setup: 'io_uring bypasses syscall filtering',
  io_uring_enter: 'io_uring bypasses syscall filtering',
  io_uring_register: 'io_uring bypasses syscall filtering',
  keyctl: 'kernel keyring is not namespaced',
  add_key: 'kernel keyring is not namespaced',
  request_key: 'kernel keyring is not namespaced',
  kexec_load: 'replace the running kernel',
  kexec_file_load: 'replace the running kernel',
  init_module: 'load kernel modules',
  finit_module: 'load kernel modules',
  delete_module: 'unload kernel modules',
  create_module: 'load kernel modules',
  reboot: 'reboot the host',
  swapon: 'change host swap',
  swapoff: 'change host swap',
  open_by_handle_at: 'open files by handle, escaping bind mounts',
  name_to_handle_at: 'probe file handles',
  iopl: 'raw I/O port access',
  ioperm: 'raw I/O port access',
  acct: 'host process accounting',
  settimeofday: 'set the host clock',
  clock_settime: 'set the host clock',
  clock_adjtime: 'set the host clock',
  adjtimex: 'set the host clock',
  syslog: 'read the kernel log',
  lookup_dcookie: 'kernel profiling interface',
  quotactl: 'host disk quotas',
  quotactl_fd: 'host disk quotas (quotactl by descriptor, Linux 5.14)',
  vhangup: 'hang up the terminal',
  sethostname: 'host naming',
  setdomainname: 'host naming',
  uselib: 'obsolete loader with a history of bugs',
  modify_ldt: 'x86 segment descriptors (kernel attack surface, past exploits)',
};

/**
 * Calls the hardened tier answers with ENOSYS, as a kernel built without
 * them would, so a program that probes for one takes the fallback it has for
 * such kernels (libaio users their thread pool, secret memory users plain
 * memory) instead of failing. EPERM would read as "present but refused".
 */
export const ABSENT_SYSCALLS: Readonly<Record<string, string>> = {
  io_setup:
    'native AIO contexts come from one host-wide pool (fs.aio-max-nr, 65536 events), not namespaced or charged to a cgroup: one sandbox reserved all of it and every io_setup on the host failed with EAGAIN',
  io_destroy: 'native AIO (no context can exist)',
  io_submit: 'native AIO (no context can exist)',
  io_cancel: 'native AIO (no context can exist)',
  io_getevents: 'native AIO (no context can exist)',
  io_pgetevents: 'native AIO (no context can exist)',
  memfd_secret:
    "secret memory is removed from the kernel's direct map, whose fragmentation slows the whole host; Docker's default profile refuses it, and kernels before 6.5 had it off",
};

/**
 * The only personas personality() may set, as in Docker's default profile:
 * PER_LINUX (0x0), PER_LINUX32 (0x8), UNAME26 (0x20000), PER_LINUX32 with
 * UNAME26 (0x20008), and 0xffffffff, the query that reads the current persona
 * without changing it. Any other persona gets EPERM: ADDR_NO_RANDOMIZE
 * (0x40000) turns ASLR off for the children a workload starts,
 * READ_IMPLIES_EXEC (0x400000) makes every readable mapping executable, and
 * the rest weaken the address space layout or change what the kernel
 * emulates. The kernel reads the argument as a 32-bit int, so its low half is
 * the whole of it.
 */
export const ALLOWED_PERSONAS: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Namespace-creating clone flags: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/**
 * The flags unshare() may not carry: the namespace flags and CLONE_NEWTIME
 * (0x80, which in clone()'s flags is the exit signal, so clone cannot ask for
 * it). New namespaces are kernel attack surface; any other unshare
 * (CLONE_FS, CLONE_FILES, CLONE_SYSVSEM: a private cwd or descriptor table,
 * as Samba's thread pool takes one per thread) touches only the caller, and a
 * kernel answers it with success, or EINVAL for an unknown flag.
 */
export const UNSHARE_REFUSED_FLAGS = CLONE_NAMESPACE_FLAGS | 0x00000080;

/** Netlink: the family of getifaddrs() (interface and address lists of the sandbox's own namespace). */
export const AF_NETLINK = 16;

/**
 * The only socket families the hardened tier lets a workload create: Unix
 * (further limited by the workload filter), IPv4, IPv6 and netlink, all of
 * which the network namespace confines. Every other family is refused:
 * AF_VSOCK reaches the hypervisor and other VMs past the network namespace
 * and the egress allowlist (the namespace does not isolate vsock), and the
 * rest (AF_PACKET, AF_ALG, AF_KEY, AF_TIPC, AF_RDS, AF_XDP...) are kernel
 * attack surface no real server needs.
 */
export const ALLOWED_SOCKET_FAMILIES: Readonly<Record<string, number>> = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK,
};
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_RAW = 3;
export const SOCK_PACKET = 10;
/** ioctl that pushes bytes into the terminal's input queue. */
export const TIOCSTI = 0x5412;
/**
 * ioctl of the Linux console whose subcommands paste the selection into the
 * terminal's input (TIOCL_PASTESEL) and set it; before Linux 6.7 these needed
 * no capability, so a workload on a VT could type into the operator's shell.
 */
export const TIOCLINUX = 0x541c;

/**
 * fcntl() command that takes a lease on a file. A read lease needs only a
 * file the caller owns (as root every file of an idmapped grant, read-only
 * ones included), and a host process opening that file for writing then
 * waits for the holder to let go, up to fs.lease-break-time (45 s), and again
 * for each lease taken anew: a workload that ignores SIGIO stalled host
 * writers of its read-only grant, which never cooperate as lockers do. The
 * filter answers EINVAL, as a host with fs.leases-enable = 0 and gVisor do.
 */
export const F_SETLEASE = 1024;

/**
 * Flags that take memory from the host's huge page pool (vm.nr_hugepages,
 * preallocated at boot or by the operator for databases, VMs and DPDK): by
 * call, the argument that carries them and the bit. Those pages are never
 * charged to the memory cgroup (cgroup v1 has a separate hugetlb controller;
 * v2 charges them only with memory_hugetlb_accounting), so a sandbox mapped
 * the whole pool past its memory quota and the host's own users of it could
 * not start. The filter answers ENOMEM, what every caller already gets from a
 * host whose pool is empty (the kernel's default) and falls back on
 * (PostgreSQL's huge_pages=try, the JVM's large pages). Transparent huge
 * pages (madvise) are ordinary memory, charged as such.
 */
export interface HugetlbFlag {
  /** The argument that carries the flag word. */
  readonly argument: number;
  /** The flag that asks for huge pages. */
  readonly bit: number;
  /**
   * What makes the kernel answer EINVAL before it ever reaches the pool,
   * checked first so the filter answers as the kernel would: bits that are
   * invalid beside the huge flag (`set`), or a bit the huge flag needs
   * (`clear`). Programs probe with such calls and stop on any other answer:
   * Chromium's mojo asks memfd_create with every flag set and CHECK-fails on
   * anything but EINVAL.
   */
  readonly invalid?: { readonly mask: number; readonly when: 'set' | 'clear' };
  /**
   * For a call that may find an existing object instead of creating one
   * (shmget): the argument holding its key and the flag that asks to create.
   * The pool is reached only for IPC_PRIVATE (key 0) or that flag; otherwise
   * the kernel looks the key up, ignores the huge flag, and answers with the
   * segment or ENOENT, as the filter then lets it.
   */
  readonly creates?: { readonly key: number; readonly flag: number };
}

export const HUGETLB_FLAGS: Readonly<Record<string, HugetlbFlag>> = {
  // MAP_HUGETLB: the kernel takes it from the pool only for an anonymous mapping; for a
  // file it needs a hugetlbfs file (none reaches a sandbox) and answers EINVAL otherwise.
  mmap: { argument: 3, bit: 0x40000, invalid: { mask: 0x20, when: 'clear' } }, // MAP_ANONYMOUS
  // MFD_HUGETLB: beside it only MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL, MFD_EXEC
  // (bits 0-4) and the page size (bits 26-31) are valid; any bit between is EINVAL.
  memfd_create: { argument: 1, bit: 0x4, invalid: { mask: 0x03ff_ffe0, when: 'set' } },
  shmget: { argument: 2, bit: 0o4000, creates: { key: 0, flag: 0o1000 } }, // SHM_HUGETLB; IPC_CREAT
};

export const EPERM = 1;
/** What a huge page request gets: an empty pool. */
export const ENOMEM = 12;
/** What F_SETLEASE gets (leases switched off), and an invalid huge page request. */
export const EINVAL = 22;
export const ENOSYS = 38;
/** What a refused socket family gets: the errno of a kernel without it, which programs probing for a family expect. */
export const EAFNOSUPPORT = 97;
