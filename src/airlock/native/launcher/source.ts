import { WORKLOAD_ID, WORKLOAD_ID_COUNT } from '../identity.js';

/** C source of oacp-launch, built once per host by build.ts (see docs/hardened-tier.md, "Launcher"). */
export const LAUNCHER_SOURCE = String.raw`/*
 * oacp-launch: the last step before a confined program runs.
 *   oacp-launch [--guard FD] [--init] [--keep FD]... [--as UID:GID] [--stage FD:PATH]...
 *               [--idmap FD:UID:GID:PATH]... [--ptys MAX] [--tmpfs TMP:SHM:INODES]
 *               [--cgroup PROCS]... [--hold FD]
 *               [--user-counts INOTIFY:WATCHES:FANOTIFY:MARKS]
 *               [--user UID:GID] [--reclaim]
 *               [--limits NOFILE:NPROC:FSIZE:SIGPENDING:MSGQUEUE] [--filter FILE] [--restore-env]
 *               -- COMMAND [ARG]...
 * --guard  forks first: the process OACP started stays outside as the guard
 *          (a child subreaper, outside the workload's process group and
 *          cgroup) and the child goes on. The guard kills every descendant,
 *          the child's process group and every process in the --cgroup files
 *          when FD (a pipe or socket only OACP holds the other end of) reads
 *          end of file, i.e. when OACP dies, kill -9 included; when the child
 *          exits it kills whatever is left and exits the same way;
 * --init   (light tier) the program runs in a new PID namespace (inside a
 *          new user namespace mapping only the caller's own ids, when not
 *          root) under a minimal init the launcher forks first. The kernel
 *          drops every signal sent to that init from inside the namespace
 *          (kill -9 included) and kills every process in the namespace when
 *          it exits; it exits when the program does, or when the guard (or,
 *          without --guard, the launcher) dies. The program cannot name the
 *          guard or OACP (they are outside its namespace), and both are not
 *          dumpable, so no /proc/PID/mem or ptrace of them either;
 * --stage  bind-mounts the already opened FD onto PATH in a private mount
 *          namespace (gVisor: runsc then binds exactly what OACP checked);
 * --idmap  (root, after --as) clones the mount of the already opened FD,
 *          idmaps it so files of host UID:GID appear as (and new files of
 *          the --as identity are written as) UID:GID, nosuid and nodev,
 *          attaches it on PATH in the private mount namespace, and makes FD
 *          refer to it: the workload runs as the --as identity, never root;
 * --ptys   mounts a devpts instance of its own on /dev/pts in the private
 *          mount namespace that holds at most MAX terminals (bwrap binds it
 *          over its own /dev/pts): the kernel's count of terminals is one for the whole
 *          host (kernel.pty.max, less what is reserved for the host's own
 *          instance), and bwrap's instance has no cap, so one sandbox
 *          could take every terminal other sandboxes and containers share;
 * --tmpfs  mounts, in the private mount namespace, a holder tmpfs on
 *          /dev/shm and in it two capped ones: tmp (TMP bytes, owned by the
 *          workload's identity, 0755) and shm (SHM bytes, 1777), each of at most
 *          INODES files, nosuid and nodev (bwrap binds them on /tmp and
 *          /dev/shm): bwrap's --tmpfs takes a size but no inode cap, and
 *          every empty file is kernel memory (an inode and a dentry) that
 *          the size does not count and, with memory opted out, nothing bounds;
 * --user-counts (not root, with the private mount namespace) caps, in the
 *          user namespace made for it, how many inotify instances and
 *          watches and fanotify groups and marks everything started
 *          inside (bwrap's nested namespace included) may hold: the kernel
 *          counts them per host uid, so without this one sandbox of a
 *          regular user took all of that user's (fs.inotify.max_user_*)
 *          and the user's own programs could watch nothing;
 * --cgroup joins the cgroup of PROCS (a cgroup.procs file; in v1 through
 *          its sibling tasks file) before anything else runs: the program and
 *          all it forks are inside;
 * --hold   (with --guard) the guard keeps FD open until it exits, i.e.
 *          until it has killed what it guards; the child closes it (the
 *          flock'ed lease of a dedicated workload id, see workload-ids.ts);
 * --user   (root) drops to UID:GID for good: no supplementary groups, an
 *          empty capability bounding set, no capabilities, no_new_privs;
 * --reclaim (with --user a leased workload id) then, as that
 *          id, SIGKILLs every other process that still runs as it
 *          (kill(-1)): nothing of an earlier sandbox of the id outlives
 *          its lease into the next one;
 * --limits sets soft and hard RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE,
 *          RLIMIT_SIGPENDING and RLIMIT_MSGQUEUE (the last two at most the
 *          hard limit already in force) and RLIMIT_CORE 0;
 * --filter installs the seccomp program in FILE (struct sock_filter[]) with
 *          no_new_privs;
 * --restore-env gives each OACP_LOADER_ENV_NAME=VALUE its name back
 *          (NAME=VALUE) for the program only: the dynamic loader of this
 *          launcher and of bwrap, on the host, never saw LD_PRELOAD and the
 *          like (see loader-env.ts);
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
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <grp.h>
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

/* After unshare(CLONE_NEWUSER): the caller's own uid and gid, and nothing else, mapped in the new namespace. */
static void map_self(uid_t uid, gid_t gid) {
  char map[64];
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  write_file("/proc/self/gid_map", map);
}

/*
 * In the user namespace just made (this process holds every capability in it): the most inotify
 * instances and watches and fanotify groups and marks its processes and those of the namespaces
 * nested in it may hold. The kernel checks every level up to the host's count for the uid.
 */
static void cap_user_counts(const char *spec) {
  static const char *const names[4] = {"max_inotify_instances", "max_inotify_watches", "max_fanotify_groups",
                                       "max_fanotify_marks"};
  const char *cursor = spec;
  for (int i = 0; i < 4; i++) {
    char *end;
    unsigned long long value = strtoull(cursor, &end, 10);
    if (end == cursor || *end != (i < 3 ? ':' : '\0') || value > 0x7fffffff) {
      errno = EINVAL;
      die("bad --user-counts", spec);
    }
    char path[64], text[24];
    snprintf(path, sizeof path, "/proc/sys/user/%s", names[i]);
    snprintf(text, sizeof text, "%llu\n", value);
    /* A kernel without fanotify has no such file: nothing to cap. */
    if (access(path, F_OK) != 0 && errno == ENOENT) { cursor = end + 1; continue; }
    write_file(path, text);
    cursor = end + 1;
  }
}

/*
 * A private mount namespace; a non-root caller first gets a user namespace mapping itself, where
 * the per-user kernel counts are capped (--user-counts).
 */
static void private_mounts(const char *user_counts) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (uid != 0) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) die("unshare", "user+mount");
    map_self(uid, gid);
    if (user_counts != NULL) cap_user_counts(user_counts);
  } else if (unshare(CLONE_NEWNS) != 0) {
    die("unshare", "mount");
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make mounts private", NULL);
}

/*
 * A devpts instance of at most MAX terminals on /dev/pts, with the options bwrap's --dev gives its own;
 * only this private mount namespace (and bwrap, which binds it) sees it.
 */
static void mount_ptys(const char *spec) {
  char *end;
  errno = 0;
  unsigned long max = strtoul(spec, &end, 10);
  if (errno != 0 || end == spec || *end != '\0' || max == 0 || max > 1048576) {
    errno = EINVAL;
    die("bad --ptys", spec);
  }
  char options[96];
  snprintf(options, sizeof options, "newinstance,ptmxmode=0666,mode=620,max=%lu", max);
  if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, options) != 0) die("cannot mount devpts on", "/dev/pts");
}

/* Where --tmpfs mounts the capped tmpfs instances bwrap binds on /tmp and /dev/shm. */
#define TMPFS_HOLDER "/dev/shm"

static void mount_tmpfs(const char *target, unsigned long long bytes, unsigned long long inodes, const char *mode,
                        long uid, long gid) {
  char options[160];
  snprintf(options, sizeof options, "size=%llu,nr_inodes=%llu,mode=%s,uid=%ld,gid=%ld", bytes, inodes, mode, uid, gid);
  if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) die("cannot mount tmpfs on", target);
}

/* --tmpfs TMP:SHM:INODES (see the top): the holder, then tmp and shm in it. */
static void mount_capped_tmpfs(const char *spec, long owner_uid, long owner_gid) {
  unsigned long long tmp, shm, inodes;
  char tail;
  if (sscanf(spec, "%llu:%llu:%llu%c", &tmp, &shm, &inodes, &tail) != 3 || tmp == 0 || shm == 0 || inodes == 0) {
    errno = EINVAL;
    die("bad --tmpfs", spec);
  }
  long uid = owner_uid >= 0 ? owner_uid : (long)geteuid();
  long gid = owner_gid >= 0 ? owner_gid : (long)getegid();
  mount_tmpfs(TMPFS_HOLDER, 65536, 4, "0755", (long)geteuid(), (long)getegid());
  if (mkdir(TMPFS_HOLDER "/tmp", 0755) != 0) die("cannot create", TMPFS_HOLDER "/tmp");
  if (mkdir(TMPFS_HOLDER "/shm", 0755) != 0) die("cannot create", TMPFS_HOLDER "/shm");
  mount_tmpfs(TMPFS_HOLDER "/tmp", tmp, inodes, "0755", uid, gid);
  mount_tmpfs(TMPFS_HOLDER "/shm", shm, inodes, "1777", uid, gid);
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

/*
 * Idmapped grants (kernel 5.12+; ext4, tmpfs, btrfs, xfs...): the workload's
 * host identity AS is dedicated and unprivileged; each grant that only its
 * owner can use is cloned (open_tree) from the descriptor OACP opened and
 * idmapped (mount_setattr) through a user namespace whose only mapping is
 * OWNER -> AS, so inside the sandbox the owner's files belong to AS and what
 * AS creates lands on disk as OWNER. Numbers are spelled here: the build
 * host's headers may predate them.
 */
struct oacp_mount_attr {
  unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#define OACP_OPEN_TREE 428
#define OACP_MOVE_MOUNT 429
#define OACP_MOUNT_SETATTR 442
#define OACP_OPEN_TREE_CLONE 1U
#define OACP_MOVE_MOUNT_F_EMPTY_PATH 0x4U
#define OACP_MOUNT_ATTR_NOSUID 0x2ULL
#define OACP_MOUNT_ATTR_NODEV 0x4ULL
#define OACP_MOUNT_ATTR_IDMAP 0x100000ULL

static long as_uid = -1, as_gid = -1;

struct idmap_ns { unsigned long uid, gid; int fd; };
static struct idmap_ns namespaces[MAX_FDS];
static int namespace_count = 0;

static void parse_ids(const char *text, unsigned long *uid, unsigned long *gid, int *consumed) {
  char *end;
  *uid = strtoul(text, &end, 10);
  if (end == text || *end != ':') { errno = EINVAL; die("bad ids", text); }
  const char *rest = end + 1;
  *gid = strtoul(rest, &end, 10);
  if (end == rest || (*end != ':' && *end != '\0') || *uid > 0xfffffffeUL || *gid > 0xfffffffeUL) {
    errno = EINVAL;
    die("bad ids", text);
  }
  *consumed = (int)(end - text);
}

/* A user namespace mapping OWNER to the --as identity, one per owner, held by a short-lived child. */
static int idmap_namespace(unsigned long uid, unsigned long gid) {
  for (int i = 0; i < namespace_count; i++)
    if (namespaces[i].uid == uid && namespaces[i].gid == gid) return namespaces[i].fd;
  if (namespace_count == MAX_FDS) { errno = E2BIG; die("too many grant owners", NULL); }
  int ready[2], done[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) die("pipe", NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", NULL);
  if (pid == 0) {
    char c = 0;
    close(ready[0]);
    close(done[1]);
    if (unshare(CLONE_NEWUSER) != 0) _exit(1);
    if (write(ready[1], &c, 1) != 1) _exit(1);
    if (read(done[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char c, path[64], map[96];
  if (read(ready[0], &c, 1) != 1) { errno = EPERM; die("cannot create the idmap user namespace", NULL); }
  /*
   * OWNER -> AS, and host root keeps a mapping so that a root helper (runsc's
   * gofer) can create files there: root as root for another owner, root as
   * AS's on-disk id when OWNER is root (AS owns nothing on disk: dedicated).
   */
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  if (uid == 0) snprintf(map, sizeof map, "0 %ld 1\n%ld 0 1\n", as_uid, as_uid);
  else snprintf(map, sizeof map, "%lu %ld 1\n0 0 1\n", uid, as_uid);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  if (gid == 0) snprintf(map, sizeof map, "0 %ld 1\n%ld 0 1\n", as_gid, as_gid);
  else snprintf(map, sizeof map, "%lu %ld 1\n0 0 1\n", gid, as_gid);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open", path);
  close(done[1]);
  close(ready[0]);
  waitpid(pid, NULL, 0);
  namespaces[namespace_count].uid = uid;
  namespaces[namespace_count].gid = gid;
  namespaces[namespace_count++].fd = fd;
  return fd;
}

struct idmapped { int fd, tree; const char *target; struct stat opened; };

/* Clones and idmaps; before the private mount namespace (a mount of another namespace cannot be cloned). */
static void idmap_clone(const char *spec, struct idmapped *out) {
  char fd_text[16];
  const char *colon = strchr(spec, ':');
  size_t length = colon == NULL ? 0 : (size_t)(colon - spec);
  if (length == 0 || length >= sizeof fd_text) { errno = EINVAL; die("bad --idmap", spec); }
  if (as_uid < 0) { errno = EINVAL; die("--idmap needs --as first", spec); }
  memcpy(fd_text, spec, length);
  fd_text[length] = '\0';
  out->fd = parse_fd(fd_text);
  unsigned long uid, gid;
  int consumed;
  parse_ids(colon + 1, &uid, &gid, &consumed);
  const char *target = colon + 1 + consumed;
  if (*target != ':' || target[1] != '/') { errno = EINVAL; die("bad --idmap", spec); }
  out->target = target + 1;
  if (fstat(out->fd, &out->opened) != 0) die("cannot stat descriptor", fd_text);
  out->tree = (int)syscall(OACP_OPEN_TREE, out->fd, "",
                           OACP_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (out->tree < 0) die("cannot clone the grant's mount", out->target);
  struct oacp_mount_attr attr = {0, 0, 0, 0};
  attr.attr_set = OACP_MOUNT_ATTR_IDMAP | OACP_MOUNT_ATTR_NOSUID | OACP_MOUNT_ATTR_NODEV;
  attr.userns_fd = (unsigned long long)idmap_namespace(uid, gid);
  if (syscall(OACP_MOUNT_SETATTR, out->tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
    {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", out->fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    fprintf(stderr,
            "oacp-launch: cannot idmap the grant %s for the sandbox uid (its filesystem has no idmapped mounts?): %s; "
            "grant a path on ext4, xfs, btrfs or tmpfs, or make it usable by others (chmod)\n",
            path, strerror(errno));
    _exit(126);
  }
}

/* Attaches the idmapped clone on its target and makes the grant's descriptor refer to it. */
static void idmap_attach(const struct idmapped *each) {
  struct stat bound;
  if (syscall(OACP_MOVE_MOUNT, each->tree, "", AT_FDCWD, each->target, OACP_MOVE_MOUNT_F_EMPTY_PATH) != 0)
    die("cannot attach the idmapped grant", each->target);
  close(each->tree);
  int reopened = open(each->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (reopened < 0 || fstat(reopened, &bound) != 0) die("cannot open", each->target);
  if (bound.st_dev != each->opened.st_dev || bound.st_ino != each->opened.st_ino) {
    errno = EXDEV;
    die("idmapped grant is not the opened inode, refusing", each->target);
  }
  /* dup2 leaves the new descriptor open across exec: bwrap binds it (--bind-fd). */
  if (dup2(reopened, each->fd) != each->fd) die("dup2", each->target);
  close(reopened);
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

/* Kills PID's children, then theirs (read before they die; the rest reparent to the guard). */
static int kill_children(pid_t pid, int depth) {
  char path[64], list[4096];
  int any = 0;
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, list, sizeof list - 1);
  close(fd);
  if (n <= 0) return 0;
  list[n] = '\0';
  for (char *cursor = list, *end; *cursor != '\0'; cursor = end) {
    long each = strtol(cursor, &end, 10);
    if (end == cursor) break;
    if (each > 0) {
      any = 1;
      kill((pid_t)each, SIGKILL);
      if (depth < 64) kill_children((pid_t)each, depth + 1);
    }
  }
  return any;
}

/* Kills every process listed in a cgroup.procs file but the guard; whether there was one. */
static int kill_listed(const char *file) {
  char list[8192];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, list, sizeof list - 1);
  close(fd);
  if (n <= 0) return 0;
  list[n] = '\0';
  int any = 0;
  for (char *cursor = list, *end; *cursor != '\0'; cursor = end) {
    long each = strtol(cursor, &end, 10);
    if (end == cursor) break;
    if (each > 0 && each != (long)getpid()) {
      any = 1;
      kill((pid_t)each, SIGKILL);
    }
  }
  return any || n == (ssize_t)sizeof list - 1;
}

/*
 * Waits MICROS for what a sweep pass killed to die, or less: back as soon as
 * the guard has no child left, since SIGCHLD (blocked in the guard) wakes
 * sigtimedwait at each death, rather than up to a whole interval later (bwrap's
 * init tearing its namespaces down at the end of every start). Early only
 * then: a workload whose children keep dying cannot use the passes up faster.
 * Reaps as the sweep does; the next pass still looks at the group, the
 * descendants and the cgroups.
 */
static void nap(unsigned int micros) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  struct timespec end;
  if (clock_gettime(CLOCK_MONOTONIC, &end) != 0) { usleep(micros); return; }
  end.tv_nsec += (long)micros * 1000;
  end.tv_sec += end.tv_nsec / 1000000000;
  end.tv_nsec %= 1000000000;
  for (;;) {
    struct timespec now, left;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return;
    left.tv_sec = end.tv_sec - now.tv_sec;
    left.tv_nsec = end.tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) { left.tv_nsec += 1000000000; left.tv_sec--; }
    if (left.tv_sec < 0) return;
    if (sigtimedwait(&chld, NULL, &left) < 0 && errno == EAGAIN) return;
    pid_t reaped;
    while ((reaped = waitpid(-1, NULL, WNOHANG)) > 0) {
    }
    if (reaped < 0 && errno == ECHILD) return;
  }
}

/*
 * Until nothing is left: the child's process group, every descendant (a
 * setsid() escapee included: as a child subreaper the guard inherits every
 * orphan), every process in the cgroups. A fork in between is caught on
 * the next pass; at most PASSES passes. After a normal exit of a sandbox
 * with a cgroup a few passes suffice (what is killed is dying; OACP's cgroup
 * removal kills and waits for what is left), so the exit status is not held
 * back while the sentry dies; otherwise the guard keeps at it until nothing
 * is left.
 */
static void sweep(pid_t child, const char *const *procs, int procs_count, int passes) {
  for (int pass = 0; pass < passes; pass++) {
    kill(-child, SIGKILL);
    /*
     * Reap what has already died before looking: a dead child (bwrap's init, reparented here as it
     * exits) is no reason to sleep, only something still alive to kill is. Found alive: sleep, look again.
     */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    int any = kill_children(getpid(), 0);
    for (int i = 0; i < procs_count; i++) any |= kill_listed(procs[i]);
    if (!any && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD) return;
    /* What was found is usually already dying (bwrap's init after a normal exit): look again soon, then back off. */
    nap(pass < 4 ? 100u << pass : pass < 20 ? 1000 : 5000);
  }
}

/* Exits as the child did: its code, or its signal (no core file). */
static void mirror(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  signal(sig, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, NULL);
  raise(sig);
  _exit(128 + sig);
}

/*
 * --init. The write end goes to the namespace's init, which reports the
 * program's wait status on it (init cannot die of a signal the way the
 * program did, so its own status would not say); the read end stays with
 * whoever forked init.
 */
static int init_status[2] = {-1, -1};

static void new_pid_namespace(void) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWPID | (uid != 0 ? CLONE_NEWUSER : 0)) != 0) die("unshare", "pid namespace");
  if (uid != 0) map_self(uid, gid);
  if (pipe2(init_status, O_CLOEXEC) != 0) die("pipe", NULL);
  /* Nothing in the namespace may open /proc/PID/mem of, or ptrace, the process that watches it. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die("dumpable", NULL);
}

/* A status init reported, or the one it exited with. */
static int reported_status(int status) {
  int reported;
  if (init_status[0] >= 0 && read(init_status[0], &reported, sizeof reported) == (ssize_t)sizeof reported)
    return reported;
  return status;
}

/*
 * In the first child after new_pid_namespace(): pid 1 there. Forks the
 * program (returns in it); stays as init, reaping every orphan, until the
 * program exits; then reports its status and exits, and the kernel kills
 * whatever is left in the namespace. Dies with its parent (PDEATHSIG).
 */
static void become_init(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die("pdeathsig", NULL);
  close(init_status[0]);
  init_status[0] = -1;
  /* The parent died before the line above: no reader left on the status pipe. */
  struct pollfd parent = {init_status[1], 0, 0};
  if (poll(&parent, 1, 0) != 0) { errno = ESRCH; die("guard gone", NULL); }
  pid_t program = fork();
  if (program < 0) die("fork", "init");
  if (program == 0) {
    close(init_status[1]);
    init_status[1] = -1;
    return;
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; fd++) {
    if (null >= 0) dup2(null, fd);
    else close(fd);
  }
  int held[1] = {init_status[1]};
  close_descriptors(held, 1);
  for (;;) {
    int status;
    pid_t done = wait(&status);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) _exit(126);
    if (done != program) continue;
    if (write(init_status[1], &status, sizeof status) != (ssize_t)sizeof status) _exit(126);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL));
  }
}

/* --init without --guard: the launcher waits for init and exits as the program did. */
static void wait_for_init(void) {
  pid_t init = fork();
  if (init < 0) die("fork", "init");
  if (init == 0) return;
  close(init_status[1]);
  int status;
  while (waitpid(init, &status, 0) < 0)
    if (errno != EINTR) die("waitpid", "init");
  mirror(reported_status(status));
}

/* Forks; returns in the child, which goes on to set up and exec the program. The parent guards. */
static void guard(int guard_fd, int hold_fd, const char *const *procs, int procs_count) {
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, &old) != 0) die("sigprocmask", NULL);
  /* Not inherited by the child: only the guard adopts orphans. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) die("subreaper", NULL);
  pid_t child = fork();
  if (child < 0) die("fork", "guard");
  if (child == 0) {
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0) die("sigprocmask", NULL);
    /* Its own group, so the guard can kill the group without killing itself. */
    if (setpgid(0, 0) != 0) die("setpgid", NULL);
    close(guard_fd);
    if (hold_fd >= 0) close(hold_fd);
    return;
  }
  if (init_status[1] >= 0) close(init_status[1]);
  setpgid(child, child); /* either side may win; EACCES once it has exec'd is fine */
  /* Terminal and termination signals go to the workload (OACP signals each process); only SIGKILL ends the guard. */
  int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU};
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
  /* Holds nothing of the workload's: its output pipes reach end of file when the workload exits. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; fd++) {
    if (null >= 0) dup2(null, fd);
    else close(fd);
  }
  int signals = signalfd(-1, &chld, SFD_CLOEXEC);
  if (signals < 0) { sweep(child, procs, procs_count, 400); _exit(126); }
  int held[4] = {guard_fd, signals, init_status[0] >= 0 ? init_status[0] : signals, hold_fd >= 0 ? hold_fd : signals};
  close_descriptors(held, 4);
  for (;;) {
    struct pollfd watch[2] = {{guard_fd, POLLIN, 0}, {signals, POLLIN, 0}};
    if (poll(watch, 2, -1) < 0) {
      if (errno == EINTR) continue;
      sweep(child, procs, procs_count, 400);
      _exit(126);
    }
    if (watch[1].revents != 0) {
      struct signalfd_siginfo info;
      if (read(signals, &info, sizeof info) < 0 && errno != EAGAIN) info.ssi_signo = 0;
      int status;
      pid_t done;
      while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
        if (done == child) {
          /* With a cgroup OACP's removal kills the rest; without one (light) nobody else would. */
          sweep(child, procs, procs_count, procs_count > 0 ? 3 : 400);
          mirror(reported_status(status));
        }
      }
    }
    if (watch[0].revents != 0) {
      char byte;
      ssize_t n = read(guard_fd, &byte, 1);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        /* OACP is gone: nothing of the sandbox may outlive it. */
        sweep(child, procs, procs_count, 400);
        _exit(137);
      }
    }
  }
}

/*
 * A v1 hierarchy is joined through the sibling "tasks" file with "0" (this
 * thread): the launcher is single-threaded, so that is the whole process,
 * and the kernel then moves it without taking the global threadgroup lock,
 * whose write side waits for an RCU grace period (3 to 20 ms of every
 * start here, more than all the rest of the launcher). v2 has no "tasks":
 * the pid goes to cgroup.procs.
 */
static void join_cgroups(const char *const *procs, int count) {
  char pid[32];
  snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (int i = 0; i < count; i++) {
    const char *slash = strrchr(procs[i], '/');
    size_t dir = slash == NULL ? 0 : (size_t)(slash - procs[i]) + 1;
    char tasks[4096];
    int fd = -1;
    if (dir + sizeof "tasks" <= sizeof tasks) {
      memcpy(tasks, procs[i], dir);
      memcpy(tasks + dir, "tasks", sizeof "tasks");
      fd = open(tasks, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
      write_file(procs[i], pid);
      continue;
    }
    if (write(fd, "0\n", 2) != 2) die("cannot write", tasks);
    close(fd);
  }
}

/*
 * For good: groups, gid, uid (all three), then no way back through exec.
 * UID 0 (a root operator who opted out of the dedicated identity) only
 * loses the supplementary groups, as bwrap then runs as root anyway.
 */
static void drop_identity(long uid, long gid) {
  if (uid != 0)
    for (int cap = 0; cap <= 63; cap++)
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
  if (setgroups(0, NULL) != 0) die("setgroups", NULL);
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0) die("setresgid", NULL);
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) die("setresuid", NULL);
  if (uid == 0) return;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs", NULL);
  uid_t r, e, s;
  if (getresuid(&r, &e, &s) != 0 || r != (uid_t)uid || e != (uid_t)uid || s != (uid_t)uid || setuid(0) == 0) {
    errno = EPERM;
    die("identity did not drop", NULL);
  }
}

static void set_limits(const char *spec) {
  unsigned long long value[6] = {0};
  const char *cursor = spec;
  for (int i = 0; i < 5; i++) {
    char *end;
    value[i] = strtoull(cursor, &end, 10);
    if (end == cursor || *end != (i < 4 ? ':' : '\0')) { errno = EINVAL; die("bad --limits", spec); }
    cursor = end + 1;
  }
  int resource[6] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_CORE};
  for (int i = 0; i < 6; i++) {
    struct rlimit limit = {value[i], value[i]};
    /*
     * Queued signals and message queue bytes are counted per host uid: a share of the invoker's, never
     * more than it has (raising a hard limit would fail as a regular user).
     */
    struct rlimit current;
    if ((resource[i] == RLIMIT_SIGPENDING || resource[i] == RLIMIT_MSGQUEUE) && getrlimit(resource[i], &current) == 0 &&
        current.rlim_max != RLIM_INFINITY && current.rlim_max < limit.rlim_max)
      limit.rlim_cur = limit.rlim_max = current.rlim_max;
    if (setrlimit(resource[i], &limit) != 0) die("setrlimit", spec);
  }
}

static void restore_env(void) {
  static const char prefix[] = "OACP_LOADER_ENV_";
  const size_t length = sizeof(prefix) - 1;
  size_t count = 0;
  for (char **entry = environ; *entry != NULL; entry++) count++;
  /* A copy first: setenv and unsetenv change environ under the loop. */
  char **renamed = calloc(count + 1, sizeof(char *));
  if (renamed == NULL) die("restore-env", NULL);
  size_t found = 0;
  for (char **entry = environ; *entry != NULL; entry++) {
    if (strncmp(*entry, prefix, length) != 0) continue;
    if ((renamed[found++] = strdup(*entry)) == NULL) die("restore-env", NULL);
  }
  for (size_t n = 0; n < found; n++) {
    char *equals = strchr(renamed[n], '=');
    if (equals == NULL || equals == renamed[n] + length) { errno = EINVAL; die("bad renamed variable", renamed[n]); }
    *equals = '\0';
    if (unsetenv(renamed[n]) != 0 || setenv(renamed[n] + length, equals + 1, 1) != 0) die("restore-env", renamed[n]);
  }
}

static void parse_pair(const char *flag, const char *text, long *uid, long *gid, int root_ok) {
  unsigned long u, g;
  int consumed;
  parse_ids(text, &u, &g, &consumed);
  if (text[consumed] != '\0' || (!root_ok && (u == 0 || g == 0))) { errno = EINVAL; die(flag, text); }
  *uid = (long)u;
  *gid = (long)g;
}

/*
 * execvp, and what POSIX has it do that musl's leaves out (glibc's does it
 * itself, so this runs only in a launcher linked against musl): a file the
 * kernel cannot exec (ENOEXEC: a script without #!) runs under /bin/sh. For a
 * bare name, that file is the first executable regular one on PATH (musl's
 * default PATH when there is none), the one execvp tried.
 */
static void exec_program(char **argv) {
  execvp(argv[0], argv);
  if (errno != ENOEXEC) return;
  static char found[4096];
  const char *file = argv[0];
  if (strchr(file, '/') == NULL) {
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/bin:/bin:/usr/bin";
    file = NULL;
    for (const char *dir = path; file == NULL;) {
      const char *end = strchr(dir, ':');
      int length = end == NULL ? (int)strlen(dir) : (int)(end - dir);
      int n = snprintf(found, sizeof found, "%.*s%s%s", length, dir, length > 0 ? "/" : "", argv[0]);
      struct stat st;
      if (n > 0 && (size_t)n < sizeof found && stat(found, &st) == 0 && S_ISREG(st.st_mode) && access(found, X_OK) == 0)
        file = found;
      if (end == NULL) break;
      dir = end + 1;
    }
    if (file == NULL) { errno = ENOEXEC; return; }
  }
  size_t count = 0;
  while (argv[count] != NULL) count++;
  char **shell = calloc(count + 2, sizeof(char *));
  if (shell == NULL) { errno = ENOEXEC; return; }
  shell[0] = (char *)"/bin/sh";
  shell[1] = (char *)file;
  for (size_t k = 1; k <= count; k++) shell[k + 1] = argv[k];
  execv("/bin/sh", shell);
}

int main(int argc, char **argv) {
  int keep[MAX_FDS];
  int keep_count = 0;
  const char *filter = NULL;
  const char *stages[MAX_FDS];
  int stage_count = 0;
  const char *idmap_specs[MAX_FDS];
  static struct idmapped idmaps[MAX_FDS];
  int idmap_count = 0;
  const char *procs[16];
  int procs_count = 0;
  const char *ptys = NULL;
  const char *tmpfs = NULL;
  const char *user_counts = NULL;
  int guard_fd = -1;
  int hold_fd = -1;
  int reclaim = 0;
  int init = 0;
  int restore = 0;
  long user_uid = -1, user_gid = -1;
  const char *limits = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "--init") == 0) { init = 1; continue; }
    if (strcmp(argv[i], "--restore-env") == 0) { restore = 1; continue; }
    if (strcmp(argv[i], "--reclaim") == 0) { reclaim = 1; continue; }
    if (i + 1 >= argc) { errno = EINVAL; die("missing value for", argv[i]); }
    if (strcmp(argv[i], "--keep") == 0) {
      if (keep_count == MAX_FDS) { errno = E2BIG; die("too many --keep", NULL); }
      keep[keep_count++] = parse_fd(argv[++i]);
    } else if (strcmp(argv[i], "--stage") == 0) {
      if (stage_count == MAX_FDS) { errno = E2BIG; die("too many --stage", NULL); }
      stages[stage_count++] = argv[++i];
    } else if (strcmp(argv[i], "--as") == 0) {
      parse_pair("bad --as", argv[++i], &as_uid, &as_gid, 0);
    } else if (strcmp(argv[i], "--idmap") == 0) {
      if (idmap_count == MAX_FDS) { errno = E2BIG; die("too many --idmap", NULL); }
      if (as_uid < 0) { errno = EINVAL; die("--idmap needs --as first", argv[i + 1]); }
      idmap_specs[idmap_count++] = argv[++i];
    } else if (strcmp(argv[i], "--ptys") == 0) {
      ptys = argv[++i];
    } else if (strcmp(argv[i], "--tmpfs") == 0) {
      tmpfs = argv[++i];
    } else if (strcmp(argv[i], "--user-counts") == 0) {
      user_counts = argv[++i];
    } else if (strcmp(argv[i], "--cgroup") == 0) {
      if (procs_count == 16) { errno = E2BIG; die("too many --cgroup", NULL); }
      procs[procs_count++] = argv[++i];
    } else if (strcmp(argv[i], "--guard") == 0) {
      guard_fd = parse_fd(argv[++i]);
    } else if (strcmp(argv[i], "--hold") == 0) {
      hold_fd = parse_fd(argv[++i]);
    } else if (strcmp(argv[i], "--user") == 0) {
      parse_pair("bad --user", argv[++i], &user_uid, &user_gid, 1);
    } else if (strcmp(argv[i], "--limits") == 0) {
      limits = argv[++i];
    } else if (strcmp(argv[i], "--filter") == 0) {
      filter = argv[++i];
    } else {
      errno = EINVAL;
      die("unknown option", argv[i]);
    }
  }
  if (i >= argc) { errno = EINVAL; die("no command after --", NULL); }
  if (init && (stage_count > 0 || idmap_count > 0 || ptys != NULL || tmpfs != NULL)) {
    errno = EINVAL;
    die("--init with --stage, --idmap, --ptys or --tmpfs", NULL);
  }
  if (hold_fd >= 0 && guard_fd < 0) { errno = EINVAL; die("--hold needs --guard", NULL); }
  if (reclaim && (user_uid <= ${WORKLOAD_ID} || user_uid > ${WORKLOAD_ID + WORKLOAD_ID_COUNT} || user_gid != user_uid)) {
    errno = EINVAL;
    die("--reclaim needs --user in the dedicated workload range", NULL);
  }
  pid_t guard_pid = getpid();
  if (init) new_pid_namespace();
  if (guard_fd >= 0) guard(guard_fd, hold_fd, procs, procs_count);
  else if (init) wait_for_init();
  /* In the namespace's init now (pid 1): the program is its child. */
  if (init) {
    become_init();
    guard_pid = 1;
  }
  for (int n = 0; n < idmap_count; n++) idmap_clone(idmap_specs[n], &idmaps[n]);
  for (int n = 0; n < namespace_count; n++) close(namespaces[n].fd);
  if (user_counts != NULL && ptys == NULL && tmpfs == NULL) {
    errno = EINVAL;
    die("--user-counts needs --ptys or --tmpfs", NULL);
  }
  if (stage_count > 0 || idmap_count > 0 || ptys != NULL || tmpfs != NULL) private_mounts(user_counts);
  for (int n = 0; n < stage_count; n++) stage(stages[n]);
  for (int n = 0; n < idmap_count; n++) idmap_attach(&idmaps[n]);
  if (ptys != NULL) mount_ptys(ptys);
  if (tmpfs != NULL) mount_capped_tmpfs(tmpfs, user_uid, user_gid);
  struct sock_fprog program = {0, NULL};
  if (filter != NULL) load_filter(filter, &program);
  /* Last of what needs privilege: the idmap helpers above are not charged to the sandbox. */
  join_cgroups(procs, procs_count);
  close_descriptors(keep, keep_count);
  if (limits != NULL) set_limits(limits);
  if (user_uid >= 0) drop_identity(user_uid, user_gid);
  /* Not this process (kill(-1) spares the caller), nothing of root's: only leftovers of an earlier lease. */
  if (reclaim) kill(-1, SIGKILL);
  if (filter != NULL) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs", NULL);
    landlock();
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) die("cannot install filter", filter);
  }
  /*
   * The guard's only death is SIGKILL (from OACP's supervisor, or a light
   * workload of the same uid): then the program dies too rather than run on
   * unwatched. After the identity drop, which clears the setting.
   */
  if (guard_fd >= 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != guard_pid)) {
    errno = ESRCH;
    die("guard gone", NULL);
  }
  if (restore) restore_env();
  exec_program(argv + i);
  die("cannot exec", argv[i]);
  return 126;
}
`;
