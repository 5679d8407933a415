import { describe, expect, it } from 'vitest';
import { encodeProgram, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS } from './bpf.js';
import { buildSeccompFilter } from './filter.js';
import { ABSENT_SYSCALLS, DENIED_SYSCALLS } from './policy.js';
import { AARCH64, X86_64 } from './syscalls.js';
import { run } from './test-interpreter.js';

const program = buildSeccompFilter();
const EPERM = SECCOMP_RET_ERRNO | 1;

describe('seccomp filter', () => {
  for (const table of [X86_64, AARCH64]) {
    describe(table.arch, () => {
      it('refuses every denied syscall the architecture has with EPERM', () => {
        const names = Object.keys(DENIED_SYSCALLS).filter((name) => table.numbers[name] !== undefined);
        expect(names.length).toBeGreaterThan(45);
        for (const name of names) {
          expect([name, run(program, table.auditArch, table.numbers[name] ?? -1)]).toEqual([name, EPERM]);
        }
      });

      it('answers native AIO (a host-wide pool) and memfd_secret with ENOSYS, as a kernel without them', () => {
        const names = Object.keys(ABSENT_SYSCALLS);
        expect(names.filter((name) => table.numbers[name] === undefined)).toEqual([]);
        for (const name of names) {
          expect([name, run(program, table.auditArch, table.numbers[name] ?? -1, [65536, 0])]).toEqual([
            name,
            SECCOMP_RET_ERRNO | 38,
          ]);
        }
      });

      it('allows ordinary calls (read, write, openat, execve)', () => {
        const ordinary = table.arch === 'x86_64' ? [0, 1, 257, 59] : [63, 64, 56, 221];
        for (const nr of ordinary) expect(run(program, table.auditArch, nr)).toBe(SECCOMP_RET_ALLOW);
      });

      it('refuses unshare of a namespace, and answers one of a cwd or descriptor table as the kernel does', () => {
        const unshare = table.numbers.unshare ?? -1;
        expect(run(program, table.auditArch, unshare, [0x10000000])).toBe(EPERM); // CLONE_NEWUSER
        expect(run(program, table.auditArch, unshare, [0x00020000 | 0x200])).toBe(EPERM); // NEWNS with FS
        expect(run(program, table.auditArch, unshare, [0x80])).toBe(EPERM); // CLONE_NEWTIME
        // Samba's thread pool takes a private cwd per thread; CLONE_FILES, CLONE_SYSVSEM and 0 touch only the caller.
        expect(run(program, table.auditArch, unshare, [0x200])).toBe(SECCOMP_RET_ALLOW); // CLONE_FS
        expect(run(program, table.auditArch, unshare, [0x400 | 0x40000])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, unshare, [0])).toBe(SECCOMP_RET_ALLOW);
      });

      it('refuses clone with namespace flags but allows fork/thread clones', () => {
        const clone = table.numbers.clone ?? -1;
        expect(run(program, table.auditArch, clone, [0x10000000])).toBe(EPERM); // CLONE_NEWUSER
        expect(run(program, table.auditArch, clone, [0x20000000 | 0x11])).toBe(EPERM); // NEWPID
        expect(run(program, table.auditArch, clone, [0x003d0f00])).toBe(SECCOMP_RET_ALLOW); // pthread flags
        expect(run(program, table.auditArch, clone, [0x01200011])).toBe(SECCOMP_RET_ALLOW); // fork
        expect(run(program, table.auditArch, table.numbers.clone3 ?? -1)).toBe(SECCOMP_RET_ERRNO | 38);
      });

      it('refuses packet and raw sockets but allows TCP, UDP and Unix sockets', () => {
        const socket = table.numbers.socket ?? -1;
        expect(run(program, table.auditArch, socket, [17, 3])).toBe(SECCOMP_RET_ERRNO | 97); // AF_PACKET
        expect(run(program, table.auditArch, socket, [2, 3])).toBe(EPERM); // AF_INET, SOCK_RAW
        expect(run(program, table.auditArch, socket, [2, 3 | 0x80000])).toBe(EPERM); // with SOCK_CLOEXEC
        expect(run(program, table.auditArch, socket, [2, 10])).toBe(EPERM); // SOCK_PACKET
        expect(run(program, table.auditArch, socket, [2, 1 | 0x80000])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, socket, [10, 2])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, socket, [1, 1])).toBe(SECCOMP_RET_ALLOW);
      });

      it('refuses every socket family but Unix, IPv4, IPv6 and netlink with EAFNOSUPPORT', () => {
        const socket = table.numbers.socket ?? -1;
        const EAFNOSUPPORT = SECCOMP_RET_ERRNO | 97;
        // AF_VSOCK reaches the hypervisor past the network namespace; the others are kernel attack surface.
        for (const family of [40, 38, 15, 30, 21, 44, 17, 31, 0, 46, 255, 0x10028]) {
          expect([family, run(program, table.auditArch, socket, [family, 1])]).toEqual([
            family,
            EAFNOSUPPORT,
          ]);
        }
        expect(run(program, table.auditArch, socket, [16, 2])).toBe(SECCOMP_RET_ALLOW); // netlink, SOCK_DGRAM
        // Netlink's SOCK_RAW is its SOCK_DGRAM to the kernel; getifaddrs() (os.networkInterfaces()) asks for it.
        expect(run(program, table.auditArch, socket, [16, 3 | 0x80000])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, socket, [16, 10])).toBe(SECCOMP_RET_ALLOW); // the kernel refuses it (ESOCKTNOSUPPORT)
        expect(run(program, table.auditArch, socket, [10, 1 | 0x800])).toBe(SECCOMP_RET_ALLOW); // IPv6, NONBLOCK
        // socketpair() creates sockets of the family too (and would autoload its module): the same allowlist.
        const socketpair = table.numbers.socketpair ?? -1;
        expect(run(program, table.auditArch, socketpair, [30, 5])).toBe(EAFNOSUPPORT); // AF_TIPC
        expect(run(program, table.auditArch, socketpair, [40, 1])).toBe(EAFNOSUPPORT); // AF_VSOCK
        expect(run(program, table.auditArch, socketpair, [1, 1 | 0x80000])).toBe(SECCOMP_RET_ALLOW); // AF_UNIX
      });

      it("answers huge page requests (the host's pool, outside the memory cgroup) with ENOMEM, nothing else", () => {
        const ENOMEM = SECCOMP_RET_ERRNO | 12;
        const mmap = table.numbers.mmap ?? -1;
        // MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, and with a 1 GiB page size in the high bits.
        expect(run(program, table.auditArch, mmap, [0, 2 << 20, 3, 0x22 | 0x40000, -1, 0])).toBe(ENOMEM);
        expect(run(program, table.auditArch, mmap, [0, 1 << 30, 3, 0x22 | 0x40000 | (30 << 26), -1, 0])).toBe(
          ENOMEM,
        );
        expect(run(program, table.auditArch, mmap, [0, 4096, 3, 0x22, -1, 0])).toBe(SECCOMP_RET_ALLOW);
        const memfd = table.numbers.memfd_create ?? -1;
        expect(run(program, table.auditArch, memfd, [0, 0x4 | 0x1])).toBe(ENOMEM); // MFD_HUGETLB | MFD_CLOEXEC
        expect(run(program, table.auditArch, memfd, [0, 0x1 | 0x2])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, memfd, [0, 0x4 | 0x1 | 0x2 | 0x8 | (21 << 26)])).toBe(ENOMEM);
        // What the kernel refuses as invalid before it reaches the pool gets its EINVAL: Chromium
        // probes memfd_create with every flag set and stops on any other answer.
        const EINVAL = SECCOMP_RET_ERRNO | 22;
        expect(run(program, table.auditArch, memfd, [0, 0xffff_ffff])).toBe(EINVAL);
        expect(run(program, table.auditArch, memfd, [0, 0x4 | 0x20])).toBe(EINVAL);
        expect(run(program, table.auditArch, memfd, [0, 0x20])).toBe(SECCOMP_RET_ALLOW); // the kernel's own EINVAL
        // MAP_HUGETLB on a file: the kernel answers EINVAL (no hugetlbfs file reaches a sandbox).
        expect(run(program, table.auditArch, mmap, [0, 2 << 20, 3, 0x02 | 0x40000, 5, 0])).toBe(EINVAL);
        const shmget = table.numbers.shmget ?? -1;
        expect(run(program, table.auditArch, shmget, [0, 2 << 20, 0o1000 | 0o4000 | 0o600])).toBe(ENOMEM);
        expect(run(program, table.auditArch, shmget, [0, 4096, 0o1000 | 0o600])).toBe(SECCOMP_RET_ALLOW);
        // IPC_PRIVATE always creates; a named key creates only with IPC_CREAT.
        expect(run(program, table.auditArch, shmget, [0, 2 << 20, 0o4000 | 0o600])).toBe(ENOMEM);
        expect(run(program, table.auditArch, shmget, [0x5eed, 2 << 20, 0o1000 | 0o4000])).toBe(ENOMEM);
        // A peer attaching to an existing key with the creator's flags: the kernel ignores SHM_HUGETLB there.
        expect(run(program, table.auditArch, shmget, [0x5eed, 0, 0o4000 | 0o600])).toBe(SECCOMP_RET_ALLOW);
      });

      it('refuses TIOCSTI and TIOCLINUX terminal injection but allows other ioctls', () => {
        const ioctl = table.numbers.ioctl ?? -1;
        expect(run(program, table.auditArch, ioctl, [0, 0x5412])).toBe(EPERM);
        expect(run(program, table.auditArch, ioctl, [0, 0x541c])).toBe(EPERM);
        expect(run(program, table.auditArch, ioctl, [0, 0x541b])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, ioctl, [0, 0x541d])).toBe(SECCOMP_RET_ALLOW);
        expect(run(program, table.auditArch, ioctl, [0, 0x5401])).toBe(SECCOMP_RET_ALLOW);
      });

      it('refuses fcntl(F_SETLEASE) with EINVAL, as with leases off, but allows other commands', () => {
        const fcntl = table.numbers.fcntl ?? -1;
        expect(run(program, table.auditArch, fcntl, [3, 1024, 0])).toBe(SECCOMP_RET_ERRNO | 22); // F_RDLCK
        expect(run(program, table.auditArch, fcntl, [3, 1024, 1])).toBe(SECCOMP_RET_ERRNO | 22); // F_WRLCK
        // F_GETLEASE, F_SETLK, F_GETFL, F_SETFD, F_DUPFD_CLOEXEC, and a command that equals ioctl's number.
        for (const command of [1025, 6, 3, 2, 1030, table.numbers.ioctl ?? -1]) {
          expect([command, run(program, table.auditArch, fcntl, [3, command, 0])]).toEqual([
            command,
            SECCOMP_RET_ALLOW,
          ]);
        }
        // An ioctl whose request equals fcntl's number is not taken for a lease.
        expect(run(program, table.auditArch, table.numbers.ioctl ?? -1, [fcntl, 1024])).toBe(
          SECCOMP_RET_ALLOW,
        );
      });

      it("refuses personas Docker's default profile refuses (ASLR off, READ_IMPLIES_EXEC) but allows its five", () => {
        const personality = table.numbers.personality ?? -1;
        // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, both, ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO, PER_BSD, high bits.
        for (const persona of [
          0x40000, 0x400000, 0x440000, 0x200000, 0x100000, 0x6, 0x40008, 0x7fffffff, 0x80000000,
        ]) {
          expect([persona, run(program, table.auditArch, personality, [persona])]).toEqual([persona, EPERM]);
        }
        for (const persona of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) {
          expect([persona, run(program, table.auditArch, personality, [persona])]).toEqual([
            persona,
            SECCOMP_RET_ALLOW,
          ]);
        }
      });

      it('checks the persona of personality() only, whatever another call carries', () => {
        // An ioctl whose request equals personality's number and whose first argument is a refused persona.
        const ioctl = table.numbers.ioctl ?? -1;
        expect(run(program, table.auditArch, ioctl, [0x40000, table.numbers.personality ?? -1])).toBe(
          SECCOMP_RET_ALLOW,
        );
        expect(run(program, table.auditArch, table.numbers.socket ?? -1, [2, 1, 0x40000])).toBe(
          SECCOMP_RET_ALLOW,
        );
      });
    });
  }

  it('refuses modify_ldt on x86_64 (aarch64 has no such call)', () => {
    expect(run(program, X86_64.auditArch, 154, [1, 0, 16])).toBe(EPERM);
    expect(AARCH64.numbers.modify_ldt).toBeUndefined();
  });

  it('refuses x32-ABI calls on x86_64', () => {
    expect(run(program, X86_64.auditArch, 0x40000000 | 1)).toBe(EPERM);
  });

  it('kills calls from any other architecture (32-bit compat)', () => {
    expect(run(program, 0x40000003, 1)).toBe(SECCOMP_RET_KILL_PROCESS); // AUDIT_ARCH_I386
  });

  it('encodes 8 bytes per instruction', () => {
    const bytes = encodeProgram(program);
    expect(bytes.length).toBe(program.length * 8);
    expect(bytes.readUInt16LE(0)).toBe(0x20);
    expect(bytes.readUInt32LE(4)).toBe(4);
  });

  it('rejects a jump that does not fit in 8 bits', () => {
    expect(() => encodeProgram([{ code: 0x15, jt: 300, jf: 0, k: 0 }])).toThrow(RangeError);
  });
});
