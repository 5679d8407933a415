/** C source of oacp-launch, built once per host by build.ts (see docs/hardened-tier.md, "Launcher"). */
export const LAUNCHER_SOURCE = String.raw`/*
 * oacp-launch: the last step before a confined program runs.
 *   oacp-launch [--keep FD]... [--stage FD:PATH]... [--filter FILE] -- COMMAND [ARG]...
 * --stage  bind-mounts the already opened FD onto PATH in a private mount
 *          namespace (gVisor: runsc then binds exactly what OACP checked);
 * --filter installs the seccomp program in FILE (struct sock_filter[]) with
 *          no_new_privs;
 * then closes every descriptor above 2 except the --keep ones and execs.
 * Any failure exits 126 with one line on stderr: nothing runs half-set-up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FDS 256

static void die(const char *what, const char *detail) {
  fprintf(stderr, "oacp-launch: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "", strerror(errno));
  _exit(126);
}

static int parse_fd(const char *text) {
  char *end;
  long value = strtol(text, &end, 10);
  if (end == text || value < 0 || value > 1 << 20) { errno = EINVAL; die("bad descriptor", text); }
  return (int)value;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("cannot write", path);
  close(fd);
}

/* A private mount namespace; a non-root caller first gets a user namespace mapping itself. */
static void private_mounts(void) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (uid != 0) {
    char map[64];
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) die("unshare", "user+mount");
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
    write_file("/proc/self/gid_map", map);
  } else if (unshare(CLONE_NEWNS) != 0) {
    die("unshare", "mount");
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make mounts private", NULL);
}

/*
 * Binds the object an open descriptor refers to onto TARGET. A descriptor
 * from the parent mount namespace cannot be bound directly, so its current
 * path is bound and the result must be the very inode OACP opened and
 * checked: a swap in between is refused, never bound (as bwrap --bind-fd does).
 */
static void stage(const char *spec) {
  char link[64], path[4096], fd_text[16];
  const char *colon = strchr(spec, ':');
  size_t length = colon == NULL ? 0 : (size_t)(colon - spec);
  if (length == 0 || length >= sizeof fd_text) { errno = EINVAL; die("bad --stage", spec); }
  memcpy(fd_text, spec, length);
  fd_text[length] = '\0';
  int fd = parse_fd(fd_text);
  const char *target = colon + 1;
  struct stat opened, bound;
  if (fstat(fd, &opened) != 0) die("cannot stat descriptor", fd_text);
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) die("cannot resolve descriptor", fd_text);
  path[n] = '\0';
  if (path[0] != '/') { errno = ENOENT; die("descriptor has no path", path); }
  if (mount(path, target, NULL, MS_BIND | MS_REC, NULL) != 0) die("cannot stage", path);
  if (stat(target, &bound) != 0) die("cannot stat", target);
  if (bound.st_dev != opened.st_dev || bound.st_ino != opened.st_ino) {
    errno = EXDEV;
    die("path changed while being granted, refusing", path);
  }
}

static void load_filter(const char *path, struct sock_fprog *program) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die("cannot open filter", path);
  if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 65536) {
    errno = EINVAL;
    die("bad filter", path);
  }
  struct sock_filter *code = malloc((size_t)st.st_size);
  if (code == NULL || read(fd, code, (size_t)st.st_size) != st.st_size) die("cannot read filter", path);
  close(fd);
  program->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  program->filter = code;
}

/*
 * Landlock, where the kernel has it (ENOSYS/EOPNOTSUPP elsewhere, e.g. in
 * gVisor, is not an error): the workload gets its own domain, so it can no
 * longer ptrace or open /proc/PID/mem of the helpers started before it (the
 * egress forwarder holds a Unix socket the workload must not drive), cannot
 * signal them, cannot reach abstract Unix sockets outside its domain, and
 * cannot make device nodes. Types are spelled here: the build host's headers
 * may predate the fields.
 */
struct oacp_landlock_ruleset_attr {
  unsigned long long handled_access_fs;
  unsigned long long handled_access_net;
  unsigned long long scoped;
};

static void landlock(void) {
  long abi = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1UL /* VERSION */);
  if (abi < 1) {
    if (errno == ENOSYS || errno == EOPNOTSUPP) return;
    die("landlock", NULL);
  }
  struct oacp_landlock_ruleset_attr attr = {0, 0, 0};
  attr.handled_access_fs = (1ULL << 6) | (1ULL << 11); /* MAKE_CHAR, MAKE_BLOCK */
  size_t size = 8;
  if (abi >= 6) {
    attr.scoped = (1ULL << 0) | (1ULL << 1); /* ABSTRACT_UNIX_SOCKET, SIGNAL */
    size = sizeof attr;
  }
  int ruleset = (int)syscall(444, &attr, size, 0UL);
  if (ruleset < 0) die("landlock ruleset", NULL);
  if (syscall(446 /* landlock_restrict_self */, ruleset, 0UL) != 0) die("landlock restrict", NULL);
  close(ruleset);
}

static int kept(int fd, const int *keep, int count) {
  for (int i = 0; i < count; i++)
    if (keep[i] == fd) return 1;
  return 0;
}

/* close_range over the gaps between kept descriptors; /proc/self/fd where close_range is missing. */
static void close_descriptors(const int *keep, int count) {
  int sorted[MAX_FDS];
  int n = 0;
  for (int i = 0; i < count; i++) sorted[n++] = keep[i];
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
      int t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t;
    }
  unsigned int from = 3;
  int ok = 1;
  for (int i = 0; i <= n && ok; i++) {
    unsigned int to = i < n ? (unsigned int)sorted[i] : ~0U;
    if (to < from) continue;
    if (to > from && syscall(SYS_close_range, from, to == ~0U ? ~0U : to - 1, 0) != 0) ok = 0;
    if (i < n) from = to + 1;
  }
  if (ok) return;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) die("cannot close descriptors", NULL);
  int self = dirfd(dir);
  int open_fds[4096];
  int found = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL && found < 4096) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    int fd = atoi(entry->d_name);
    if (fd > 2 && fd != self && !kept(fd, keep, count)) open_fds[found++] = fd;
  }
  closedir(dir);
  for (int i = 0; i < found; i++) close(open_fds[i]);
}

int main(int argc, char **argv) {
  int keep[MAX_FDS];
  int keep_count = 0;
  const char *filter = NULL;
  int i = 1;
  int staged = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (i + 1 >= argc) { errno = EINVAL; die("missing value for", argv[i]); }
    if (strcmp(argv[i], "--keep") == 0) {
      if (keep_count == MAX_FDS) { errno = E2BIG; die("too many --keep", NULL); }
      keep[keep_count++] = parse_fd(argv[++i]);
    } else if (strcmp(argv[i], "--stage") == 0) {
      if (!staged) private_mounts();
      staged = 1;
      stage(argv[++i]);
    } else if (strcmp(argv[i], "--filter") == 0) {
      filter = argv[++i];
    } else {
      errno = EINVAL;
      die("unknown option", argv[i]);
    }
  }
  if (i >= argc) { errno = EINVAL; die("no command after --", NULL); }
  struct sock_fprog program = {0, NULL};
  if (filter != NULL) load_filter(filter, &program);
  close_descriptors(keep, keep_count);
  if (filter != NULL) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs", NULL);
    landlock();
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) die("cannot install filter", filter);
  }
  execvp(argv[i], argv + i);
  die("cannot exec", argv[i]);
  return 126;
}
`;
