import { describe, expect, it } from 'vitest';
import { SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS } from './bpf.js';
import { AARCH64, X86_64 } from './syscalls.js';
import { run } from './test-interpreter.js';
import { buildWorkloadFilter } from './workload-filter.js';

const program = buildWorkloadFilter();
const EPERM = SECCOMP_RET_ERRNO | 1;
const ENOSYS = SECCOMP_RET_ERRNO | 38;

describe('workload filter', () => {
  for (const table of [X86_64, AARCH64]) {
    const nr = (name: string): number => {
      const value = table.numbers[name];
      if (value === undefined) throw new Error(`${name} missing on ${table.arch}`);
      return value;
    };
    const call = (name: string, args: number[] = []) => run(program, table.auditArch, nr(name), args);

    it(`${table.arch}: refuses setuid/setgid bits through fchmodat and openat, allows ordinary modes`, () => {
      expect(call('fchmodat', [-100, 0, 0o6755])).toBe(EPERM);
      expect(call('fchmodat', [-100, 0, 0o2755])).toBe(EPERM);
      expect(call('fchmod', [3, 0o4700])).toBe(EPERM);
      expect(call('fchmodat', [-100, 0, 0o755])).toBe(SECCOMP_RET_ALLOW);
      expect(call('openat', [-100, 0, 0o101, 0o4755])).toBe(EPERM);
      expect(call('openat', [-100, 0, 0o101, 0o644])).toBe(SECCOMP_RET_ALLOW);
      expect(call('fchmodat2', [-100, 0, 0o4755, 0])).toBe(EPERM);
    });

    it(`${table.arch}: reads an open's mode only when the open can create, as the kernel does`, () => {
      // A runtime that passes a copied file's mode with a plain open: the kernel ignores it and opens.
      expect(call('openat', [-100, 0, 0o0, 0o104755])).toBe(SECCOMP_RET_ALLOW);
      expect(call('openat', [-100, 0, 0o2000001, 0o2755])).toBe(SECCOMP_RET_ALLOW);
      // O_TMPFILE (with O_DIRECTORY, 0o200000 on x86_64, 0o40000 on aarch64) creates, so its mode is checked.
      expect(call('openat', [-100, 0, 0o20200002, 0o4755])).toBe(EPERM);
      expect(call('openat', [-100, 0, 0o20040002, 0o2755])).toBe(EPERM);
      expect(call('openat', [-100, 0, 0o20200002, 0o600])).toBe(SECCOMP_RET_ALLOW);
    });

    it(`${table.arch}: refuses device nodes, allows FIFOs; openat2 gets ENOSYS`, () => {
      expect(call('mknodat', [-100, 0, 0o020666, 0x103])).toBe(EPERM);
      expect(call('mknodat', [-100, 0, 0o060600, 0x800])).toBe(EPERM);
      expect(call('mknodat', [-100, 0, 0o010644, 0])).toBe(SECCOMP_RET_ALLOW);
      expect(call('openat2', [-100, 0, 0, 24])).toBe(ENOSYS);
    });

    it(`${table.arch}: refuses AF_UNIX sockets and driving other processes, allows AF_INET`, () => {
      expect(call('socket', [1, 1, 0])).toBe(EPERM);
      expect(call('socket', [2, 1, 0])).toBe(SECCOMP_RET_ALLOW);
      expect(call('ptrace', [16, 1, 0, 0])).toBe(EPERM);
      expect(call('pidfd_getfd', [3, 4, 0])).toBe(EPERM);
      expect(call('ioctl', [0, 0x5401])).toBe(SECCOMP_RET_ALLOW);
    });

    it(`${table.arch}: with unixSockets (gVisor, --host-uds=none) allows AF_UNIX and keeps every other refusal`, () => {
      const relaxed = buildWorkloadFilter(undefined, { unixSockets: true });
      const relaxedCall = (name: string, args: number[] = []) =>
        run(relaxed, table.auditArch, nr(name), args);
      expect(relaxedCall('socket', [1, 1, 0])).toBe(SECCOMP_RET_ALLOW);
      expect(relaxedCall('fchmodat', [-100, 0, 0o6755])).toBe(EPERM);
      expect(relaxedCall('ptrace', [16, 1, 0, 0])).toBe(EPERM);
      expect(relaxedCall('mknodat', [-100, 0, 0o020666, 0x103])).toBe(EPERM);
    });
  }

  it('x86_64: covers the legacy calls (chmod, open, creat, mknod) and kills other architectures', () => {
    const x86 = (name: string, args: number[]) =>
      run(program, X86_64.auditArch, X86_64.numbers[name] ?? -1, args);
    expect(x86('chmod', [0, 0o4755])).toBe(EPERM);
    expect(x86('open', [0, 0o101, 0o6755])).toBe(EPERM);
    expect(x86('open', [0, 0o0, 0o6755])).toBe(SECCOMP_RET_ALLOW);
    expect(x86('creat', [0, 0o2755])).toBe(EPERM);
    expect(x86('mknod', [0, 0o020666, 0x103])).toBe(EPERM);
    expect(run(program, 0x40000003, 15, [0, 0o4755])).toBe(SECCOMP_RET_KILL_PROCESS);
  });
});
