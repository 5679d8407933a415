#!/usr/bin/env node
// Runs inside the cgroup v2 guest (see ../vm.ts): exercises OACP's real
// cgroup code (dist/) and the hardened tier through the CLI, and appends one
// JSON line of raw observations per check to /tmp/out/results.jsonl. The
// host-side test (../cgroup-v2.test.ts) makes the assertions; this file only
// observes, so a failure there shows what the kernel did.
//   driver.mjs          as root, in /sys/fs/cgroup/ci (what guest-init.sh gives)
//   driver.mjs user     as uid 1000, in a delegated subtree (started by the root run)
//   driver.mjs container as root in a cgroup namespace whose root is a cgroup holding
//                        processes, as in a container on a v2 host (started by the root run)
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const repo = resolve(dirname(self), '../../..');
const cgroups = await import(join(repo, 'dist/airlock/cgroups/index.js'));
// The product joins a sandbox's cgroups in its C launcher (src/airlock/native/launcher); the
// workloads this driver starts directly join the same way from a shell: write the pid into every
// cgroup.procs, then exec, so the workload is inside from its first instruction.
function cgroupEnterArgs(procsFiles) {
  if (procsFiles.length === 0) return [];
  return [
    '/bin/sh',
    '-c',
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"',
    'oacp-cgroup-enter',
    ...procsFiles,
    '--',
  ];
}
const { blockDeviceOf } = await import(join(repo, 'dist/airlock/cgroups/block-device.js'));
const { cgroupFacts } = await import(join(repo, 'dist/airlock/doctor.js'));

const mode = process.argv[2];
const asUser = mode === 'user';
/** A run started by the root run, which records the lines this one prints. */
const nested = mode === 'user' || mode === 'container';
const prefix = nested ? `${mode}.` : '';
const MiB = 1024 * 1024;
const ROOT = '/sys/fs/cgroup';
const DELEGATED = `${ROOT}/delegated-1000`;

/** The root run appends to the shared results file; a nested run prints, and root records its lines. */
function record(name, data) {
  const line = `${JSON.stringify({ name: prefix + name, ...data })}\n`;
  if (nested) process.stdout.write(line);
  else appendFileSync('/tmp/out/results.jsonl', line);
}

function read(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    return `unreadable: ${error.code}`;
  }
}

/** Runs argv to its end (killing it after timeoutMs), returning what it did. */
function runCommand(argv, timeoutMs, options = {}) {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr: stderr.slice(-4000), wallMs: performance.now() - started });
    });
  });
}

/** Runs argv inside a fresh sandbox cgroup, then removes it and says what was left. */
async function inCgroup(host, id, limits, argv, timeoutMs, observe = () => ({})) {
  const cgroup = cgroups.createSandboxCgroup(host, id, limits);
  const dir = dirname(cgroup.procsFiles[0]);
  const run = await runCommand([...cgroupEnterArgs(cgroup.procsFiles), ...argv], timeoutMs);
  const seen = {
    dir,
    run,
    oomKills: cgroup.oomKills(),
    memoryPeakBytes: cgroup.memoryPeakBytes(),
    forksRefused: cgroup.forksRefused(),
    cpuUsageMs: cgroup.cpuUsageMs(),
    ...observe(dir),
  };
  await cgroup.remove();
  return { ...seen, removed: !existsSync(dir) };
}

const python = (code) => ['/usr/bin/python3', '-c', code];

// 64 forks of children that sleep on with their output closed (so the parent's exit ends
// the run), printing how many forks worked and how many the kernel refused.
const forkBomb =
  'import os,time\nok=0\nrefused=0\nfor i in range(64):\n  try:\n    pid=os.fork()\n  except OSError:\n    refused+=1\n    continue\n  if pid==0:\n    os.close(1)\n    os.close(2)\n    time.sleep(30)\n    os._exit(0)\n  ok+=1\nprint(ok, refused, flush=True)\nos._exit(0)';

async function check(name, body) {
  try {
    record(name, await body());
  } catch (error) {
    record(name, { error: String(error?.stack ?? error) });
  }
}

async function moduleChecks() {
  // What `oacp doctor` says first: it only looks, it moves no process.
  const doctorFacts = cgroupFacts();
  // A neighbour in the same cgroup that forks and reaps all along, as a container's shell
  // might: detection must move it into the leaf too, whatever it spawns meanwhile.
  const neighbour = spawn('/bin/sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' });
  await new Promise((done) => setTimeout(done, 500));
  const host = cgroups.detectCgroupHost();
  const neighbourCgroup = read(`/proc/${neighbour.pid}/cgroup`);
  neighbour.kill('SIGKILL');
  await check('detect', () => ({
    host,
    doctorFacts,
    selfCgroup: read('/proc/self/cgroup'),
    neighbourCgroup,
  }));
  const parent = host.memory.available ? host.memory.parents[0] : '/nonexistent';
  await check('config', async () =>
    inCgroup(
      host,
      'v2-config',
      { memoryBytes: 64 * MiB, pids: 20, cpus: 0.5 },
      ['/bin/true'],
      30_000,
      (dir) => ({
        memoryMax: read(join(dir, 'memory.max')),
        swapMax: read(join(dir, 'memory.swap.max')),
        oomGroup: read(join(dir, 'memory.oom.group')),
        pidsMax: read(join(dir, 'pids.max')),
        cpuMax: read(join(dir, 'cpu.max')),
      }),
    ),
  );
  // 200 MiB in 4 MiB steps into the file `open` makes, counting the steps that got through.
  const hog = (open) =>
    python(
      `import os\n${open}\nfor i in range(50):\n  f.write(b"x"*4194304)\n  print(i+1, flush=True)\nprint("survived")`,
    );
  await check('memory-anon', () =>
    inCgroup(
      host,
      'v2-anon',
      { memoryBytes: 64 * MiB },
      python(
        'b=[]\nfor i in range(50):\n  b.append(bytearray(4194304))\n  print(i+1, flush=True)\nprint("survived")',
      ),
      60_000,
    ),
  );
  await check('memory-memfd', () =>
    inCgroup(
      host,
      'v2-memfd',
      { memoryBytes: 64 * MiB },
      hog('f=os.fdopen(os.memfd_create("hog"),"wb",0)'),
      60_000,
    ),
  );
  await check('memory-shm', async () => {
    const seen = await inCgroup(
      host,
      'v2-shm',
      { memoryBytes: 64 * MiB },
      hog('f=open("/dev/shm/v2-hog","wb",0)'),
      60_000,
    );
    await runCommand(['rm', '-f', '/dev/shm/v2-hog'], 10_000);
    return seen;
  });
  // Whether the kernel notifies pids.events (inotify) at a refused fork, as the supervisor's watch
  // (src/airlock/native/pids-watch.ts) expects of v2: each change event with the count it saw.
  await check('pids-notify', async () => {
    const cgroup = cgroups.createSandboxCgroup(host, 'v2-pids-notify', { pids: 4 });
    const seenAtEvents = [];
    const watcher = watch(cgroup.pidsEventsFile, () => seenAtEvents.push(cgroup.forksRefused()));
    const run = await runCommand([...cgroupEnterArgs(cgroup.procsFiles), ...python(forkBomb)], 60_000);
    // The kernel notifies from a work item (kernfs_notify): let it land before the watch closes.
    await new Promise((done) => setTimeout(done, 500));
    watcher.close();
    const seen = {
      run,
      forksRefused: cgroup.forksRefused(),
      seenAtEvents,
      eventsFile: cgroup.pidsEventsFile,
    };
    await cgroup.remove();
    return seen;
  });
  await check('pids', () =>
    inCgroup(host, 'v2-pids', { pids: 16 }, python(forkBomb), 60_000, (dir) => ({
      pidsPeak: read(join(dir, 'pids.peak')),
      pidsCurrent: read(join(dir, 'pids.current')),
    })),
  );
  await check('cpu-bandwidth', () =>
    inCgroup(
      host,
      'v2-cpu',
      { cpus: 0.2 },
      python('import time\nend=time.monotonic()+2\nwhile time.monotonic()<end: pass\nprint("done")'),
      60_000,
      (dir) => ({ cpuStat: read(join(dir, 'cpu.stat')) }),
    ),
  );
  if (!nested)
    await check('io', async () => {
      const device = blockDeviceOf('/tmp/disk');
      const limits = { io: { bytesPerSecond: MiB, devices: device === undefined ? [] : [device] } };
      const seen = await inCgroup(
        host,
        'v2-io',
        limits,
        ['dd', 'if=/dev/zero', 'of=/tmp/disk/v2-io', 'bs=256k', 'count=12', 'oflag=direct'],
        60_000,
        (dir) => ({ ioMax: read(join(dir, 'io.max')), ioStat: read(join(dir, 'io.stat')) }),
      );
      return { device, vda: read('/sys/block/vda/dev'), ...seen };
    });
  if (!nested)
    // Buffered writes reach the disk from writeback; v2 charges them to the cgroup that
    // dirtied the pages when it has the memory controller too (as every tier's sandbox has).
    await check('io-buffered', async () => {
      const device = blockDeviceOf('/tmp/disk');
      const limits = {
        memoryBytes: 256 * MiB,
        io: { bytesPerSecond: MiB, devices: device === undefined ? [] : [device] },
      };
      return inCgroup(
        host,
        'v2-io-buffered',
        limits,
        ['dd', 'if=/dev/zero', 'of=/tmp/disk/v2-io-buffered', 'bs=256k', 'count=12', 'conv=fsync'],
        60_000,
        (dir) => ({ ioStat: read(join(dir, 'io.stat')) }),
      );
    });
  await check('leftovers', () => ({
    parent,
    entries: existsSync(parent) ? readdirSync(parent).filter((entry) => entry.startsWith('oacp-')) : [],
  }));
}

// These checks are about the kernel's limits, in a VM with no OACP home: `oacp run` runs them unreceipted, by name.
const oacp = (args, timeoutMs) =>
  runCommand(
    [
      process.execPath,
      join(repo, 'dist/cli/main.js'),
      ...(args[0] === 'run' ? ['run', '--no-receipt', ...args.slice(1)] : args),
    ],
    timeoutMs,
  );

const memfdHog = python(
  'import os\nf=os.fdopen(os.memfd_create("hog"),"wb",0)\nfor i in range(50): f.write(b"x"*4194304)\nprint("survived")',
);

async function hardenedChecks() {
  const manifest = '/tmp/home/v2-manifest.yaml';
  writeFileSync(
    manifest,
    'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: v2\nquotas:\n  max_pids: 16\n  disk_io_mb_per_s: 1\n',
  );
  await check('hardened-memfd', () =>
    oacp(['run', '--tier', 'hardened', '--quota-memory', '64mb', '--', ...memfdHog], 120_000),
  );
  await check('hardened-pids', () =>
    oacp(['run', '--tier', 'hardened', '--manifest', manifest, '--', ...python(forkBomb)], 120_000),
  );
  await check('hardened-cpu-total', () =>
    oacp(
      [
        'run',
        '--tier',
        'hardened',
        '--quota-cpu',
        '1s',
        '--',
        ...python(
          'import time\nend=time.monotonic()+60\nwhile time.monotonic()<end: pass\nprint("survived")',
        ),
      ],
      120_000,
    ),
  );
  await check('hardened-io', () =>
    oacp(
      [
        'run',
        '--tier',
        'hardened',
        '--manifest',
        manifest,
        '--allow-files',
        '/tmp/disk:rw',
        '--',
        'dd',
        'if=/dev/zero',
        'of=/tmp/disk/hardened-io',
        'bs=256k',
        'count=12',
        'oflag=direct',
      ],
      120_000,
    ),
  );
  await check('hardened-leftovers', () => ({
    entries: readdirSync(`${ROOT}/ci`).filter((entry) => entry.startsWith('oacp-')),
  }));
}

/**
 * The gVisor tier on the v2 kernel: its footprint probe (memory.current minus file, the v2 side
 * of memoryCharge()) and a 64 MiB quota against a memfd fill. The fill prints what it holds after
 * each 4 MiB, so the host sees how far it got. Under emulation the sentry boots slowly: CPU
 * allowances are raised so only memory can stop it.
 */
async function gvisorChecks() {
  const manifest = '/tmp/home/v2-gvisor-manifest.yaml';
  writeFileSync(
    manifest,
    'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: v2-gvisor\nquotas:\n  memory_mb: 64\n  startup_cpu_ms: 900000\n  cpu_ms_per_request: 900000\n',
  );
  await check('gvisor-memfd', () =>
    oacp(
      [
        'run',
        '--tier',
        'gvisor',
        '--manifest',
        manifest,
        '--',
        ...python(
          'import os\nf=os.fdopen(os.memfd_create("hog"),"wb",0)\nfor i in range(50):\n  f.write(b"x"*4194304)\n  print("held", 4*(i+1), flush=True)\nprint("survived")',
        ),
      ],
      400_000,
    ),
  );
  await check('gvisor-doctor', () => oacp(['doctor'], 400_000));
  await check('gvisor-leftovers', () => ({
    entries: readdirSync(`${ROOT}/ci`).filter((entry) => entry.startsWith('oacp-')),
  }));
}

/** A subtree owned by uid 1000, delegated as systemd does (the directory and its three files). */
async function delegatedChecks() {
  mkdirSync(DELEGATED);
  for (const path of [
    DELEGATED,
    ...['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'].map((f) => join(DELEGATED, f)),
  ])
    chownSync(path, 1000, 1000);
  await nestedRun(
    'delegated-run',
    'echo $$ > "$1/cgroup.procs" && exec setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=/tmp "$2" "$3" user',
    DELEGATED,
  );
}

/**
 * A cgroup namespace rooted at a cgroup that holds processes, with cgroup2 mounted
 * afresh inside, as Docker or Kubernetes give a container on a v2 host: OACP sees
 * itself at "/" and must still move into a leaf before it can hand out controllers.
 */
async function containerChecks() {
  const container = `${ROOT}/ci/container`;
  mkdirSync(container);
  await nestedRun(
    'container-run',
    'echo $$ > "$1/cgroup.procs" && exec unshare --cgroup --mount sh -c \'umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$0" "$1" container\' "$2" "$3"',
    container,
  );
}

/** Runs this driver again through `script` (sh -c, with $1 = cgroup, $2 = node, $3 = this file) and records what it prints. */
async function nestedRun(name, script, cgroup) {
  const run = await runCommand(['/bin/sh', '-c', script, name, cgroup, process.execPath, self], 300_000);
  for (const line of run.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    try {
      appendFileSync('/tmp/out/results.jsonl', `${JSON.stringify(JSON.parse(line))}\n`);
    } catch {
      // A truncated line; the run's record below still shows it.
    }
  }
  record(name, { run: { ...run, stdout: run.stdout.slice(-500) } });
}

if (asUser) {
  await moduleChecks();
  // An ordinary user's hardened sandbox, kernel-limited through the delegated subtree alone.
  await check('hardened-memfd', () =>
    oacp(['run', '--tier', 'hardened', '--quota-memory', '64mb', '--', ...memfdHog], 120_000),
  );
  await check('hardened-leftovers', () => ({
    entries: readdirSync(DELEGATED).filter((entry) => entry.startsWith('oacp-')),
  }));
} else if (mode === 'container') await moduleChecks();
else {
  await moduleChecks();
  await delegatedChecks();
  await containerChecks();
  await hardenedChecks();
  await gvisorChecks();
}
