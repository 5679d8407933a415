#!/bin/busybox sh
# /init of the cgroup v2 test VM (see vm.ts). Mounts the host's root
# read-only over 9p, a unified cgroup2 hierarchy with every controller, and
# runs node $oacp_driver (a kernel command-line parameter) in the host root as
# root, inside /sys/fs/cgroup/ci: a non-root cgroup that holds processes,
# as a container's or a systemd service's does. Then powers off. The host
# sees /tmp/out (the driver's results); /tmp/disk is an ext4 virtio disk.
# switch_root, not chroot: the kernel refuses user namespaces (bwrap) to a
# chrooted process.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t devtmpfs dev /dev
for m in $($bb cat /modules/order); do $bb insmod "/modules/$m.ko" || echo "OACP-VM insmod $m failed"; done
R=/mnt/root
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot $R || echo "OACP-VM 9p mount failed"
$bb mount -t proc proc $R/proc
$bb mount -t sysfs sys $R/sys
$bb mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup
$bb mount -t devtmpfs dev $R/dev
$bb mkdir -p $R/dev/shm $R/dev/pts
$bb mount -t tmpfs -o mode=1777 shm $R/dev/shm
$bb mount -t devpts devpts $R/dev/pts
# /run is a fresh tmpfs on every booted Linux (the hardened tier leases per-sandbox host ids under
# /run/oacp/ids); the host's, seen through the read-only 9p root, is not writable.
$bb mount -t tmpfs -o mode=0755 run $R/run
# The host's /tmp stays reachable at /tmp/.host (a checkout under /tmp, as a CI clone may be, holds
# the driver); the guest's own /tmp is a fresh tmpfs over it.
$bb mkdir -p /hosttmp
$bb mount --bind $R/tmp /hosttmp
$bb mount -t tmpfs -o mode=1777 tmp $R/tmp
$bb mkdir -p $R/tmp/.host
$bb mount --move /hosttmp $R/tmp/.host || echo "OACP-VM host /tmp move failed"
$bb mkdir -p $R/tmp/disk $R/tmp/out
$bb mount -t 9p -o trans=virtio,version=9p2000.L out $R/tmp/out || echo "OACP-VM out mount failed"
if [ -b /dev/vda ]; then $bb mount -t ext4 /dev/vda $R/tmp/disk || echo "OACP-VM ext4 mount failed"; fi
# Root's own (0755): the hardened check grants it :rw as root, idmapped; a writable grant every
# account may write (1777) is refused as root (what a workload left there would be its leased id's).
$bb chmod 0755 $R/tmp/disk
C=$R/sys/fs/cgroup
echo "+cpu +io +memory +pids" > $C/cgroup.subtree_control || echo "OACP-VM cannot enable controllers"
$bb mkdir $C/ci
echo $$ > $C/ci/cgroup.procs
echo "OACP-VM booted"
exec $bb switch_root $R /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp/home OACP_VM=1 \
  /bin/sh -c "mkdir -p /tmp/home && cd /tmp && node $oacp_driver 2>&1; echo \"OACP-VM driver exit \$?\"; sync; echo o > /proc/sysrq-trigger; sleep 60"
