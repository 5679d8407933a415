/**
 * Memory and CPU attacks from the issue-9 report, as Python programs. Each
 * prints "held" only if the attack got what it wanted; a contained attack
 * is killed by the Airlock (killedBy 'memory' / 'cpu') or refused by the
 * kernel (an error printed as "refused ...").
 */

/** 768 MiB in an anonymous memfd: not RSS of anyone, only the memory cgroup sees it. */
export const MEMFD_768_MIB = `
import os
fd = os.memfd_create("hoard")
chunk = b"x" * (1 << 20)
try:
    for _ in range(768): os.write(fd, chunk)
except OSError as e:
    print("refused", e.strerror); raise SystemExit(0)
print("held")
`;

/** 400 MiB in a tmpfs file (/dev/shm or /tmp): page cache nobody maps. */
export const tmpfsFill = (path: string, mib: number): string => `
chunk = b"x" * (1 << 20)
try:
    with open(${JSON.stringify(path)}, "wb") as f:
        for _ in range(${mib}): f.write(chunk)
except OSError as e:
    print("refused", e.strerror); raise SystemExit(0)
print("held")
`;

/** 770 MiB of SysV shared memory, touched then detached (it outlives the process). */
export const SYSV_770_MIB = `
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmat.restype = ctypes.c_void_p
libc.shmdt.argtypes = [ctypes.c_void_p]
size = 770 << 20
seg = libc.shmget(0, size, 0o1000 | 0o600)
if seg < 0:
    print("refused shmget", ctypes.get_errno()); raise SystemExit(0)
addr = libc.shmat(seg, None, 0)
if addr is None or addr == ctypes.c_void_p(-1).value:
    print("refused shmat", ctypes.get_errno()); raise SystemExit(0)
ctypes.memset(addr, 1, size)
libc.shmdt(addr)
print("held")
`;

/** Works 6 ms, naps 4 ms, forever: never busy when a sampler looks at the wrong moment. */
export const NAPPING_LOOP = `
import time
while True:
    start = time.monotonic()
    while time.monotonic() - start < 0.006: pass
    time.sleep(0.004)
`;

/** Two processes spinning for 1.5 s of wall time; prints the CPU seconds they got. */
export const TWO_SPINNERS = `
import os, time
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        start = time.monotonic()
        while time.monotonic() - start < 1.5: pass
        os._exit(0)
    kids.append(pid)
for pid in kids: os.waitpid(pid, 0)
t = os.times()
print(t.children_user + t.children_system)
`;

/** Reserves 8 GiB of address space without touching it, as V8 and WebAssembly do. */
export const RESERVE_8_GIB = `
import mmap
m = mmap.mmap(-1, 8 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
print("reserved", len(m))
`;
