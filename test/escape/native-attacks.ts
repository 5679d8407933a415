/**
 * The escape corpus as data: each attack names the probe that performs it
 * and the outcome that proves it was contained, per tier. `undefined` for a
 * tier means the attack does not apply there (gVisor runs its own kernel, so
 * e.g. ptrace among the sandbox's own processes is allowed and harmless).
 */
export interface Attack {
  readonly probe: string;
  readonly title: string;
  readonly hardened: RegExp;
  readonly gvisor?: RegExp;
}

const REFUSED = /^err:/;
/** gVisor's sentry answers every personality() call with EINVAL, even 0x0 and the 0xffffffff query. */
const GVISOR_PERSONA = /^err:EINVAL$/;

export const ATTACKS: readonly Attack[] = [
  { probe: 'read_shadow', title: 'read /etc/shadow', hardened: /^err:ENOENT$/, gvisor: /^err:ENOENT$/ },
  { probe: 'list_root_home', title: 'list /root', hardened: /^err:ENOENT$/, gvisor: /^err:ENOENT$/ },
  { probe: 'list_home', title: 'list /home', hardened: /^err:ENOENT$/, gvisor: /^err:ENOENT$/ },
  {
    probe: 'read_oacp_home',
    title: 'read the OACP home (keys)',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  {
    probe: 'read_host_file',
    title: 'read an ungranted host file',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  {
    probe: 'dotdot_escape',
    title: 'climb out of a grant with ..',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  {
    probe: 'symlink_escape',
    title: 'follow a host symlink inside a grant to a secret',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  {
    probe: 'new_symlink_escape',
    title: 'create a symlink to /etc/shadow and read it',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  // Rootless gVisor runs in the launcher's user namespace, where host root's files are unmapped: EACCES first.
  {
    probe: 'write_usr',
    title: 'write into /usr/bin',
    hardened: /^err:EROFS$/,
    gvisor: /^err:(EROFS|EACCES)$/,
  },
  {
    probe: 'write_root',
    title: 'write into /',
    hardened: /^err:EROFS$/,
    // As root the workload is the dedicated non-root id: the sentry's DAC may refuse before the read-only root.
    gvisor: /^err:(EROFS|EACCES)$/,
  },
  {
    probe: 'write_etc',
    title: 'overwrite /etc/passwd',
    hardened: /^err:EROFS$/,
    gvisor: /^err:(EROFS|EACCES)$/,
  },
  {
    probe: 'write_exe_dir',
    title: "write into the interpreter's own directory",
    hardened: /^err:EROFS$/,
    gvisor: /^err:(EROFS|EACCES)$/,
  },
  {
    probe: 'write_var',
    title: 'write into /var/tmp',
    hardened: /^err:(EROFS|ENOENT)$/,
    gvisor: /^err:(EROFS|ENOENT)$/,
  },
  {
    probe: 'self_environ',
    title: 'find the host canary in /proc/self/environ',
    hardened: /^ok:clean$/,
    gvisor: /^ok:clean$/,
  },
  {
    probe: 'pid1_environ',
    title: 'find the host canary in /proc/1/environ',
    // bwrap's pid 1 is outside the workload's Landlock domain: not even readable.
    hardened: /^err:EACCES$/,
    gvisor: /^ok:clean$/,
  },
  {
    probe: 'os_environ',
    title: 'find the host canary in the environment',
    hardened: /^ok:clean$/,
    gvisor: /^ok:clean$/,
  },
  {
    probe: 'pid1_cmdline',
    title: "see the host's init as pid 1",
    hardened: /^ok:\/usr\/bin\/bwrap/,
    gvisor: /^ok:\/usr\/bin\/python3/,
  },
  {
    probe: 'see_host_pid',
    title: 'see a host process in /proc',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  { probe: 'kill_host_pid', title: 'kill -9 a host process', hardened: /^err:ESRCH$/, gvisor: /^err:ESRCH$/ },
  {
    probe: 'kill_all',
    title: 'kill -1 (every process it can see)',
    hardened: /^err:ESRCH$/,
    gvisor: /^err:ESRCH$/,
  },
  { probe: 'dev_sda', title: 'open /dev/sda', hardened: /^err:ENOENT$/, gvisor: /^err:ENOENT$/ },
  { probe: 'dev_mem', title: 'open /dev/mem', hardened: /^err:ENOENT$/, gvisor: /^err:ENOENT$/ },
  {
    probe: 'dev_kmsg',
    title: 'read the kernel log via /dev/kmsg',
    hardened: /^err:ENOENT$/,
    gvisor: /^err:ENOENT$/,
  },
  { probe: 'sysrq', title: 'write /proc/sysrq-trigger', hardened: REFUSED, gvisor: REFUSED },
  {
    probe: 'sys_list',
    title: "list the host's network devices in /sys",
    hardened: /^err:ENOENT$/,
    gvisor: /^ok:lo$/,
  },
  { probe: 'raw_socket', title: 'open a raw ICMP socket', hardened: /^err:EPERM$/, gvisor: /^err:EPERM$/ },
  {
    probe: 'packet_socket',
    title: 'open an AF_PACKET socket',
    // Outside the hardened filter's family allowlist; gVisor's netstack refuses the raw type.
    hardened: /^err:EAFNOSUPPORT$/,
    gvisor: /^err:EPERM$/,
  },
  {
    probe: 'vsock_socket',
    title: 'open an AF_VSOCK socket (reaches the hypervisor past the network namespace)',
    hardened: /^err:EAFNOSUPPORT$/,
    gvisor: /^err:EAFNOSUPPORT$/,
  },
  {
    // Inside the sandbox's own network namespace: it sees only lo (net_interfaces).
    probe: 'netlink_dgram',
    title: 'open a netlink socket (allowed, confined by the network namespace)',
    hardened: /^ok:created$/,
    gvisor: /^(ok:created|err:EPROTONOSUPPORT)$/,
  },
  {
    // Not an attack: glibc's getifaddrs() (Node's os.networkInterfaces()) asks for SOCK_RAW, which
    // for netlink is the same socket as SOCK_DGRAM; what it lists is the sandbox's own loopback.
    probe: 'netlink_raw',
    title: 'open a netlink socket as SOCK_RAW (getifaddrs; the same socket as SOCK_DGRAM)',
    hardened: /^ok:created$/,
    gvisor: /^(ok:created|err:EPROTONOSUPPORT)$/,
  },
  {
    // Not an attack: the family allowlist covers socketpair(), whose Unix pairs (child stdio) must keep working.
    probe: 'socketpair_unix',
    title: 'create a Unix socketpair (allowed: reaches no host socket)',
    hardened: /^ok:created$/,
    gvisor: /^ok:created$/,
  },
  {
    probe: 'direct_tcp',
    title: 'connect directly, bypassing the proxy',
    hardened: /^err:ENETUNREACH$/,
    gvisor: /^err:(ENETUNREACH|EHOSTUNREACH)$/,
  },
  {
    probe: 'dns_exfil',
    title: 'exfiltrate data through a DNS lookup',
    hardened: /^err:EAI/,
    gvisor: /^err:EAI/,
  },
  {
    probe: 'net_interfaces',
    title: 'find a network interface besides lo',
    hardened: /^ok:lo$/,
    gvisor: /^ok:lo$/,
  },
  { probe: 'ptrace_traceme', title: 'use ptrace at all', hardened: /^err:EPERM$/ },
  {
    probe: 'ptrace_host',
    title: 'ptrace-attach to a host process',
    hardened: /^err:EPERM$/,
    // The workload filter refuses ptrace before the sentry would answer ESRCH.
    gvisor: /^err:(EPERM|ESRCH)$/,
  },
  {
    probe: 'process_vm_readv',
    title: "read a host process's memory",
    hardened: /^err:EPERM$/,
    gvisor: REFUSED,
  },
  {
    probe: 'personality_no_aslr',
    title: 'turn ASLR off for its children (personality ADDR_NO_RANDOMIZE)',
    hardened: /^err:EPERM$/,
    gvisor: GVISOR_PERSONA,
  },
  {
    probe: 'personality_read_exec',
    title: 'make readable memory executable (personality READ_IMPLIES_EXEC)',
    hardened: /^err:EPERM$/,
    gvisor: GVISOR_PERSONA,
  },
  {
    // Not an attack: the query Docker's profile allows too, which programs use to read their persona.
    probe: 'personality_query',
    title: 'read its persona (allowed)',
    hardened: /^ok:0x0$/,
    gvisor: GVISOR_PERSONA,
  },
  {
    probe: 'modify_ldt',
    title: 'edit x86 segment descriptors (modify_ldt)',
    // ENOSYS: aarch64 has no such call. gVisor's sentry refuses it itself.
    hardened: /^err:(EPERM|ENOSYS)$/,
    gvisor: /^err:(EPERM|ENOSYS)$/,
  },
  { probe: 'mount', title: 'mount a filesystem', hardened: /^err:EPERM$/, gvisor: /^err:EPERM$/ },
  { probe: 'chroot', title: 'chroot', hardened: /^err:EPERM$/, gvisor: /^err:EPERM$/ },
  { probe: 'unshare_user', title: 'create a user namespace', hardened: /^err:EPERM$/ },
  { probe: 'unshare_net', title: 'create a network namespace', hardened: /^err:EPERM$/ },
  { probe: 'keyctl', title: 'use the kernel keyring (keyctl)', hardened: /^err:EPERM$/, gvisor: REFUSED },
  { probe: 'add_key', title: 'add a key to the kernel keyring', hardened: /^err:EPERM$/, gvisor: REFUSED },
  { probe: 'bpf', title: 'load an eBPF program', hardened: /^err:EPERM$/, gvisor: REFUSED },
  { probe: 'perf_event_open', title: 'open performance counters', hardened: /^err:EPERM$/, gvisor: REFUSED },
  { probe: 'io_uring', title: 'set up io_uring', hardened: /^err:EPERM$/ },
  { probe: 'userfaultfd', title: 'create a userfaultfd', hardened: /^err:EPERM$/, gvisor: REFUSED },
  {
    // Off in kernels before 6.5 (ENOSYS there), and in gVisor's sentry.
    probe: 'memfd_secret',
    title: "take secret memory out of the kernel's direct map (memfd_secret)",
    hardened: /^err:ENOSYS$/,
    gvisor: /^err:ENOSYS$/,
  },
  { probe: 'init_module', title: 'load a kernel module', hardened: /^err:EPERM$/, gvisor: REFUSED },
  { probe: 'kexec_load', title: 'load a new kernel', hardened: /^err:EPERM$/, gvisor: REFUSED },
  {
    probe: 'open_by_handle_at',
    title: 'open a host file by handle',
    hardened: /^err:EPERM$/,
    gvisor: REFUSED,
  },
  {
    probe: 'name_to_handle_at',
    title: 'take a file handle to reopen a file without a path walk',
    hardened: /^err:EPERM$/,
    gvisor: REFUSED,
  },
  {
    probe: 'proc_sys_write',
    title: 'write a kernel setting in /proc/sys',
    hardened: REFUSED,
    gvisor: REFUSED,
  },
  {
    probe: 'cgroup_procs_write',
    title: 'move itself out of its cgroup (write cgroup.procs)',
    hardened: REFUSED,
    gvisor: REFUSED,
  },
  { probe: 'cap_eff', title: 'hold any capability', hardened: /^ok:0{16}$/, gvisor: /^ok:0{16}$/ },
  { probe: 'no_new_privs', title: 'gain privileges through setuid (no_new_privs off)', hardened: /^ok:1$/ },
  { probe: 'seccomp_mode', title: 'run without a seccomp filter', hardened: /^ok:2$/ },
  {
    probe: 'hostname',
    title: "see the host's hostname",
    hardened: /^ok:oacp-sandbox$/,
    gvisor: /^ok:oacp-sandbox$/,
  },
];
