import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, REGULAR_UID } from './harness.js';

/**
 * Real native programs in the confined tiers, as root and as a regular user:
 * each probes the kernel at start (threads, shared memory, memfd, clone,
 * sockets, job control) and stops on an answer no kernel gives. Wherever the
 * Airlock answers instead of the kernel (seccomp errno rules, rlimits,
 * refused families), a program must get what a kernel without the feature
 * would say: Chromium's mojo CHECK-failed on the filter's ENOMEM to a
 * memfd_create probe that a kernel refuses with EINVAL. One sandbox per leg
 * runs every program in turn (a sandbox start, not a program, is the cost);
 * each program runs bare first, and one that fails bare is skipped, named.
 */
interface NativeProgram {
  readonly name: string;
  /** The binary that must exist on the host; the program is skipped, named, otherwise. */
  readonly binary: string;
  /** A bash snippet run in $W, a writable directory (the sandbox's grant). */
  readonly script: string;
  readonly answer: RegExp;
}

const PROGRAMS: readonly NativeProgram[] = [
  {
    name: 'python3 threads',
    binary: '/usr/bin/python3',
    script: `/usr/bin/python3 -c 'import threading;r=[];ts=[threading.Thread(target=r.append,args=(i,)) for i in range(4)];[t.start() for t in ts];[t.join() for t in ts];print(sorted(r))'`,
    answer: /\[0, 1, 2, 3\]/,
  },
  {
    // A Pool's workers and a Queue take POSIX semaphores (sem_open, /dev/shm) and pipes.
    name: 'python3 multiprocessing',
    binary: '/usr/bin/python3',
    script: `/usr/bin/python3 -c 'import multiprocessing as m; p=m.Pool(2); print(p.map(abs,[-1,-2])); p.close(); p.join(); q=m.Queue(); c=m.Process(target=q.put,args=(42,)); c.start(); print(q.get()); c.join()'`,
    answer: /\[1, 2\]\n42/,
  },
  {
    name: 'python3 mmap and sqlite3',
    binary: '/usr/bin/python3',
    script: `/usr/bin/python3 -c 'import mmap,sqlite3;m=mmap.mmap(-1,4096);m.write(b"hi");c=sqlite3.connect("py.db");c.execute("create table t(a)");c.execute("insert into t values(1)");c.commit();print(m[:2],c.execute("select * from t").fetchall())'`,
    answer: /b'hi' \[\(1,\)\]/,
  },
  {
    name: 'sqlite3',
    binary: '/usr/bin/sqlite3',
    script: `/usr/bin/sqlite3 cli.db 'create table t(a); insert into t values(2); select a from t;'`,
    answer: /^2$/m,
  },
  {
    name: 'git init and commit',
    binary: '/usr/bin/git',
    script:
      'mkdir repo && cd repo && /usr/bin/git init -q && echo a > f && /usr/bin/git add f && /usr/bin/git -c user.name=a -c user.email=a@example.com commit -qm m && /usr/bin/git log --oneline | wc -l',
    answer: /^1$/m,
  },
  {
    name: 'node worker_threads, WebAssembly, child_process',
    binary: '/usr/bin/node',
    script: `/usr/bin/node -e 'const {Worker}=require("worker_threads");const c=require("child_process").execFileSync("/usr/bin/echo",["child"]).toString().trim();WebAssembly.instantiate(new Uint8Array([0,97,115,109,1,0,0,0])).then(()=>new Worker("require(\\"worker_threads\\").parentPort.postMessage(6)",{eval:true}).on("message",m=>console.log(c,"wasm",m)))'`,
    answer: /child wasm 6/,
  },
  { name: 'curl', binary: '/usr/bin/curl', script: '/usr/bin/curl --version', answer: /^curl \d/m },
  {
    name: 'openssl',
    binary: '/usr/bin/openssl',
    script: '/usr/bin/openssl rand -hex 4 && echo hi | /usr/bin/openssl sha256',
    answer: /98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4/,
  },
  {
    name: 'perl',
    binary: '/usr/bin/perl',
    script: `/usr/bin/perl -MPOSIX -e 'my $p=fork; if(!$p){exit 3} waitpid($p,0); print "perl ", $?>>8, "\\n"'`,
    answer: /perl 3/,
  },
  {
    // An interactive shell takes the terminal's process group (TIOCSPGRP) and tracks jobs.
    name: 'bash job control',
    binary: '/usr/bin/bash',
    script: `/usr/bin/bash -ic 'sleep 0.1 & jobs; wait; echo jobs done' < /dev/null`,
    answer: /Running[\s\S]*jobs done/,
  },
  {
    name: 'gcc and make',
    binary: '/usr/bin/make',
    script: `printf 'int main(void){return 0;}\\n' > a.c && printf 'a: a.c\\n\\t/usr/bin/gcc a.c -o a\\n' > Makefile && /usr/bin/make -s && ./a && echo built`,
    answer: /^built$/m,
  },
];

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const MARK = '@@oacp-program';

/** One bash script that runs each program in $W and frames its output and status. */
function bundle(programs: readonly NativeProgram[]): string {
  return programs
    .map(
      (program, index) =>
        `cd "$W" && out=$( { ${program.script} ; } 2>&1 ); echo "${MARK} ${index} $?"; printf '%s\\n' "$out"`,
    )
    .join('\n');
}

/** Each program's exit status and output, by its index in the bundle. */
function parse(stdout: string): Map<number, { status: number; output: string }> {
  const found = new Map<number, { status: number; output: string }>();
  for (const part of stdout.split(`${MARK} `).slice(1)) {
    const [head = '', ...rest] = part.split('\n');
    const [index, status] = head.split(' ').map(Number);
    if (index !== undefined && status !== undefined) found.set(index, { status, output: rest.join('\n') });
  }
  return found;
}

function as(identity: Identity, home: string, argv: string[]): [string, string[], NodeJS.ProcessEnv] {
  const env = { PATH: '/usr/bin:/bin', HOME: home };
  if (identity === 'root') return [argv[0] ?? '', argv.slice(1), env];
  return [
    '/usr/bin/setpriv',
    [`--reuid=${REGULAR_UID}`, `--regid=${REGULAR_UID}`, '--clear-groups', ...argv],
    env,
  ];
}

/** A 0700 scratch directory owned by the identity: its HOME, and the grant the programs write in. */
function scratch(identity: Identity): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-native-programs-'));
  if (identity === 'user') chownSync(dir, REGULAR_UID, REGULAR_UID);
  return dir;
}

/** Runs `command` to its end (async, so vitest's worker stays responsive), at most 110 s. */
function collect(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
  });
}

type Results = Map<number, { status: number; output: string }>;

async function runBundle(
  where: 'bare' | 'hardened' | 'gvisor',
  identity: Identity,
  programs: readonly NativeProgram[],
  manifest?: object,
): Promise<{ results: Results; stderr: string }> {
  const home = scratch(identity);
  const work = scratch(identity);
  try {
    const script = `W=${work}\n${bundle(programs)}`;
    const manifestFile = join(home, 'manifest.json');
    if (manifest !== undefined) writeFileSync(manifestFile, JSON.stringify(manifest), { mode: 0o644 });
    const argv =
      where === 'bare'
        ? ['/usr/bin/bash', '-c', script]
        : [
            process.execPath,
            BIN,
            'run',
            '--no-receipt',
            '--tier',
            where,
            '--allow-files',
            `${work}:rw`,
            // cgroup v1 is root-only: a regular user's sandboxes need the opt-out on such hosts.
            ...(identity === 'user' ? ['--allow-unenforced', 'memory,pids,cpu,disk_io'] : []),
            ...(manifest === undefined ? [] : ['--manifest', manifestFile]),
            '--',
            '/usr/bin/bash',
            '-c',
            script,
          ];
    const [command, args, env] = as(identity, home, argv);
    const { stdout, stderr } = await collect(command, args, env);
    return { results: parse(stdout), stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

const root = process.getuid?.() === 0;
const runscInstalled = spawnSync('runsc', ['--version']).status === 0;
const legs: [tier: 'hardened' | 'gvisor', identity: Identity][] = [
  ['hardened', 'root'],
  ['hardened', 'user'],
  ['gvisor', 'root'],
  ['gvisor', 'user'],
];

describe.skipIf(!binaryBuilt() || !root)('compat: real native programs in the confined tiers', () => {
  const installed = PROGRAMS.filter((program) => {
    if (existsSync(program.binary)) return true;
    console.log(`skipping ${program.name}: ${program.binary} is not installed`);
    return false;
  });
  const baseline = new Map<Identity, Results>();
  beforeAll(async () => {
    for (const identity of ['root', 'user'] as const)
      baseline.set(identity, (await runBundle('bare', identity, installed)).results);
  }, 120_000);

  for (const [tier, identity] of legs)
    it.skipIf(tier === 'gvisor' && !runscInstalled)(
      `${tier} as ${identity}: every program answers as it does bare`,
      async () => {
        const bare = baseline.get(identity) ?? new Map();
        const { results, stderr } = await runBundle(tier, identity, installed);
        const failures: string[] = [];
        installed.forEach((program, index) => {
          const before = bare.get(index);
          if (before?.status !== 0 || !program.answer.test(before.output)) {
            console.log(`skipping ${program.name}: it fails bare too (${before?.output.slice(-300)})`);
            return;
          }
          const got = results.get(index);
          if (got?.status !== 0 || !program.answer.test(got.output))
            failures.push(
              `${program.name}: status ${got?.status}: ${got?.output.slice(-600) ?? 'never ran'}`,
            );
        });
        expect(failures, stderr.slice(-1500)).toEqual([]);
      },
      120_000,
    );

  // Chromium needs socket(AF_UNIX), which the hardened tier refuses unless asked
  // (its process singleton and mojo), more tasks and memory than the defaults
  // (its threads count against max_pids: at 128 a renderer's pthread_create
  // got EAGAIN and the browser hung), and --no-sandbox: its own sandbox wants
  // user namespaces, which the Airlock refuses (docs/hardened-tier.md).
  const browserManifest = {
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'chromium',
    capabilities: { unix_sockets: true },
    quotas: { max_pids: 1024, memory_mb: 2048 },
  };
  const chromium: NativeProgram = {
    name: 'chromium --dump-dom',
    binary: '/usr/bin/chromium',
    script: `/usr/bin/chromium --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p id="x">native</p>' 2>/dev/null`,
    answer: /<p id="x">native<\/p>/,
  };
  for (const identity of ['root', 'user'] as const)
    it.skipIf(!existsSync(chromium.binary))(
      `hardened as ${identity}: chromium renders a page with unix_sockets and a raised max_pids`,
      async () => {
        const { results, stderr } = await runBundle('hardened', identity, [chromium], browserManifest);
        expect(results.get(0)?.output ?? '', stderr.slice(-1500)).toMatch(chromium.answer);
      },
      120_000,
    );
});
