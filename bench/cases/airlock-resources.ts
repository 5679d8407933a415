import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type CgroupHost, detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import type { ProcessTier } from '../../src/airlock/sandbox.js';
import { sampleSpawns, timeBareSpawn, timeTierSpawn } from '../../src/airlock/spawn-bench.js';
import { ManifestSchema } from '../../src/capability/manifest.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { type BenchCase, figure, percentile } from '../harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SPAWNS = 30;
const MIB = 1024 * 1024;
const NONE: CgroupHost = {
  memory: { available: false, reason: 'bench: cgroups off' },
  pids: { available: false, reason: 'bench: cgroups off' },
  cpu: { available: false, reason: 'bench: cgroups off' },
  io: { available: false, reason: 'bench: cgroups off' },
};

function cgroupsOn(host: CgroupHost): boolean {
  return Object.values(host).every((support) => support.available);
}

/** Hardened start-to-exit of /usr/bin/true with the sandbox cgroup, against bare spawn and against no cgroup. */
const cgroupStartCase: BenchCase = {
  id: 'cgroup-start',
  title: 'hardened start overhead with a cgroup per sandbox (memory, pids, cpu) over bare spawn',
  async run(report) {
    const host = detectCgroupHost();
    if (!cgroupsOn(host)) {
      report('no cgroup controllers for this user: skipped');
      return [];
    }
    const withCgroup = new HardenedTier({ cgroups: host });
    const without = new HardenedTier({ cgroups: NONE });
    if (!(await withCgroup.availability()).available) return [];
    const optOut = ManifestSchema.parse({
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'bench',
      quotas: { allow_unenforced: ['memory', 'pids', 'cpu', 'disk_io'] },
    });
    const plain: ProcessTier = {
      name: 'hardened',
      availability: () => without.availability(),
      start: (spec) => without.start({ ...spec, manifest: optOut }),
    };
    report(`${SPAWNS} bare, ${SPAWNS} hardened with cgroups, ${SPAWNS} hardened without`);
    const bare = await sampleSpawns(timeBareSpawn, SPAWNS);
    const tier = await sampleSpawns(() => timeTierSpawn(withCgroup), SPAWNS);
    const noCgroup = await sampleSpawns(() => timeTierSpawn(plain), SPAWNS);
    const bareP50 = percentile(bare, 50);
    const version = host.memory.available ? host.memory.version : 0;
    return [
      figure({
        case: 'cgroup-start',
        metric: `hardened overhead over bare spawn, cgroup v${version} on, p50`,
        unit: 'ms',
        subject: percentile(tier, 50) - bareP50,
        baselineName: 'bare spawn of /usr/bin/true',
        baseline: bareP50,
        goal: { op: '<=', value: 5 },
        note: `load average ${loadavg()
          .map((value) => value.toFixed(1))
          .join(' ')} (2 cores shared by seven sessions)`,
      }),
      figure({
        case: 'cgroup-start',
        metric: 'hardened start to exit with a cgroup, p50',
        unit: 'ms',
        subject: percentile(tier, 50),
        baselineName: 'hardened start to exit without a cgroup (opted out)',
        baseline: percentile(noCgroup, 50),
        note: 'the difference is creating the cgroup directories, writing the limits, the join before exec and the removal',
      }),
    ];
  },
};

/** Prints how many MiB it holds after each one, so the workload's own share is counted from inside. */
const FILL = (kind: 'memfd' | 'shm' | 'anon' | 'sysv') => `
import os, ctypes
chunk = b"x" * (1 << 20)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
hoard = []
held = 0
if "${kind}" == "memfd":
    fd = os.memfd_create("fill")
elif "${kind}" == "shm":
    f = open("/dev/shm/fill", "wb")
while True:
    if "${kind}" == "memfd":
        os.write(fd, chunk)
    elif "${kind}" == "shm":
        f.write(chunk); f.flush()
    elif "${kind}" == "sysv":
        segment = libc.shmget(0, 1 << 20, 0o1600)
        address = libc.shmat(segment, None, 0)
        ctypes.memset(address, 120, 1 << 20)
        libc.shmdt(ctypes.c_void_p(address))
    else:
        hoard.append(bytearray(chunk))
    held += 1
    print("held", held, flush=True)
`;

/** Where the memory cgroup stops a 64 MiB sandbox, filled 1 MiB at a time four ways. */
const memoryPrecisionCase: BenchCase = {
  id: 'memory-precision',
  title: 'memory charged when a --quota-memory 64mb sandbox is killed (anonymous, memfd, /dev/shm, SysV)',
  async run(report) {
    const host = detectCgroupHost();
    if (!host.memory.available) {
      report('no memory controller for this user: skipped');
      return [];
    }
    const figures = [];
    const gvisor = new GvisorTier({ pollMs: 25 });
    const tiers: [string, ProcessTier][] = [
      ['hardened', new HardenedTier({ pollMs: 25 })],
      ['gvisor', gvisor],
    ];
    const manifest = ManifestSchema.parse({
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'bench',
      quotas: { memory_mb: 64 },
    });
    const charged = async (tier: ProcessTier, script: string) => {
      const sandbox = await tier.start({ command: '/usr/bin/python3', args: ['-c', script], manifest });
      let out = '';
      sandbox.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      sandbox.stderr.resume();
      const status = await sandbox.exit;
      const held = Math.max(0, ...[...out.matchAll(/held (\d+)/g)].map((match) => Number(match[1])));
      return { status, held, peak: sandbox.usage().memoryPeakBytes / MIB };
    };
    for (const [name, tier] of tiers) {
      if (!(await tier.availability()).available) continue;
      // gVisor: the cgroup also holds the gVisor kernel (its footprint, measured by the tier and added to
      // the limit). The workload's share is counted from inside: the MiB it filled plus python3's own
      // pages (an idle python3's charge minus that footprint).
      const footprint = name === 'gvisor' ? (gvisor.memoryOverheadBytes() ?? 0) / MIB : 0;
      const idle = name === 'gvisor' ? (await charged(tier, 'pass')).peak : 0;
      if (name === 'gvisor')
        report(
          `gvisor footprint (runsc, sentry, gofer) ${footprint.toFixed(1)} MiB; idle python3 ${idle.toFixed(1)} MiB charged, its own ${(idle - footprint).toFixed(1)} MiB`,
        );
      for (const kind of ['anon', 'memfd', 'shm', 'sysv'] as const) {
        const { status, held, peak } = await charged(tier, FILL(kind));
        report(
          `${name} ${kind}: killedBy ${status.killedBy ?? 'none'} at ${peak.toFixed(1)} MiB charged, ${held} MiB filled`,
        );
        const stopped =
          status.killedBy === undefined
            ? `not killed: ${kind === 'shm' ? '/dev/shm full at the quota (ENOSPC)' : `exit ${status.code ?? status.signal}`}`
            : `killedBy ${status.killedBy}`;
        figures.push(
          figure({
            case: 'memory-precision',
            metric:
              name === 'gvisor'
                ? `gvisor: workload memory at the kill (filled + python3's own), ${kind}`
                : `${name}: charged memory at the kill, ${kind}`,
            unit: 'MiB',
            subject: name === 'gvisor' ? held + idle - footprint : peak,
            baselineName: 'memory quota (64 MiB)',
            baseline: 64,
            goal: { op: '<=', value: 64 },
            note:
              name === 'gvisor'
                ? `${stopped}; ${held} MiB filled, python3's own ${(idle - footprint).toFixed(1)} MiB; ${peak.toFixed(1)} MiB charged in all (cgroup limit 64 MiB + measured footprint ${footprint.toFixed(1)} MiB)`
                : stopped,
          }),
        );
      }
    }
    return figures;
  },
};

async function timeToToolsList(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  const client = new Client({ name: 'oacp-bench', version: '1' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  await client.listTools();
  const elapsed = performance.now() - started;
  await client.close();
  return elapsed;
}

/** A real npm server (sequential-thinking) to its first tools/list: directly, and through the bridge. */
const realServerStartCase: BenchCase = {
  id: 'real-server-start',
  title: 'a real npm MCP server to its first tools/list, through `oacp mcp run` vs directly',
  async run(report) {
    const script = join(ROOT, 'node_modules/@modelcontextprotocol/server-sequential-thinking/dist/index.js');
    const cli = join(ROOT, 'dist', 'cli', 'main.js');
    const home = mkdtempSync(join(tmpdir(), 'oacp-bench-real-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'bench.oacp.invalid/real' });
    const figures = [];
    try {
      for (const tier of ['hardened', 'gvisor'] as const) {
        report(`5 starts direct and 5 through oacp mcp run --tier ${tier}`);
        const direct: number[] = [];
        const bridged: number[] = [];
        for (let i = 0; i < 5; i++) {
          direct.push(await timeToToolsList(process.execPath, [script]));
          bridged.push(
            await timeToToolsList(process.execPath, [
              cli,
              '--home',
              home,
              'mcp',
              'run',
              '--tier',
              tier,
              '--',
              process.execPath,
              script,
            ]),
          );
        }
        const ratio = percentile(bridged, 50) / percentile(direct, 50);
        figures.push(
          figure({
            case: 'real-server-start',
            metric: `sequential-thinking to first tools/list through the bridge (${tier}) / directly, p50`,
            unit: 'x',
            subject: ratio,
            baselineName: 'started directly (ratio 1)',
            baseline: 1,
            ...(tier === 'hardened' ? { goal: { op: '<=' as const, value: 1.5 } } : {}),
            note: `${tier}: ${percentile(bridged, 50).toFixed(0)} ms bridged vs ${percentile(direct, 50).toFixed(0)} ms direct`,
          }),
        );
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    return figures;
  },
};

export const airlockResourceCases: BenchCase[] = [cgroupStartCase, memoryPrecisionCase, realServerStartCase];
