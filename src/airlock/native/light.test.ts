import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../capability/manifest.js';
import type { ProcessSandbox } from '../sandbox.js';
import { LightTier } from './light.js';

function manifest(extra: { env?: string[]; quotas?: Record<string, number> } = {}) {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'light-test',
    capabilities: { env: extra.env ?? [] },
    quotas: extra.quotas ?? {},
  });
}

async function collect(sandbox: ProcessSandbox): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  sandbox.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  await sandbox.exit;
  return { out, err };
}

function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

/** The state once the process is gone or a zombie, or its last state when `withinMs` runs out. */
async function settledState(pid: number, withinMs: number): Promise<string> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const state = processState(pid);
    if (state === 'gone' || state === 'Z' || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const tier = new LightTier({ pollMs: 20 });

describe('light tier', () => {
  it('passes only manifest-named variables and a fixed PATH', async () => {
    const sandbox = await tier.start({
      command: '/usr/bin/env',
      args: [],
      manifest: manifest({ env: ['KEEP_ME', 'PREFIX_*'] }),
      env: { KEEP_ME: 'yes', PREFIX_A: 'a', CANARY_SECRET: 'leak', PATH: '/evil', KEEP_ME_NOT: 'no' },
    });
    const { out } = await collect(sandbox);
    const lines = out.trim().split('\n').sort();
    expect(lines).toEqual(['KEEP_ME=yes', 'PATH=/usr/local/bin:/usr/bin:/bin', 'PREFIX_A=a']);
  });

  it('pipes stdin to stdout and reports the exit code', async () => {
    const sandbox = await tier.start({
      command: '/bin/sh',
      args: ['-c', 'cat; exit 3'],
      manifest: manifest(),
    });
    sandbox.stdin.end('hello');
    const { out } = await collect(sandbox);
    expect(out).toBe('hello');
    expect(await sandbox.exit).toEqual({ code: 3, signal: null });
    expect(sandbox.usage().outputBytes).toBe(5);
  });

  it('refuses to start a missing executable', async () => {
    await expect(
      tier.start({ command: '/nonexistent/binary', args: [], manifest: manifest() }),
    ).rejects.toMatchObject({ code: 'AIRLOCK_SPAWN_FAILED' });
  });

  it('kills an output flood naming the quota', async () => {
    const sandbox = await tier.start({
      command: '/bin/sh',
      args: ['-c', 'yes flood'],
      manifest: manifest({ quotas: { max_output_bytes: 4096 } }),
    });
    const { out } = await collect(sandbox);
    expect(out.length).toBe(4096);
    expect((await sandbox.exit).killedBy).toBe('max_output_bytes');
  });

  it('kills a busy loop when it spends its CPU budget', async () => {
    const sandbox = await tier.start({
      command: process.execPath,
      args: ['-e', 'for(;;){}'],
      manifest: manifest({ quotas: { cpu_ms_per_request: 300, startup_cpu_ms: 0 } }),
    });
    const status = await sandbox.exit;
    expect(status.killedBy).toBe('cpu');
    expect(sandbox.usage().cpuMs).toBeGreaterThan(200);
  });

  it('kills a process tree that grows past its memory quota', async () => {
    const sandbox = await tier.start({
      command: process.execPath,
      args: ['-e', 'const a=[];setInterval(()=>a.push(Buffer.alloc(8<<20,1)),5)'],
      manifest: manifest({ quotas: { memory_mb: 96 } }),
    });
    const status = await sandbox.exit;
    expect(status.killedBy).toBe('memory');
    expect(sandbox.usage().memoryPeakBytes).toBeGreaterThan(64 * 1024 * 1024);
  });

  it('stop() ends the whole process group, grandchildren included', async () => {
    const sandbox = await tier.start({
      command: '/bin/sh',
      // The host pid (from /proc/self/stat: the host's /proc); $! is the pid inside the PID namespace.
      args: ['-c', "/bin/sh -c 'read -r s _ < /proc/self/stat; echo $s; exec sleep 300' & wait"],
      manifest: manifest(),
    });
    const grandchild = await new Promise<number>((resolve) =>
      sandbox.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    // Alive: running, sleeping, or in the uninterruptible wait of its exec of sleep (D, seen on a loaded host).
    expect(processState(grandchild)).toMatch(/^[RSD]$/);
    await sandbox.stop();
    const status = await sandbox.exit;
    expect(status.signal).toBe('SIGTERM');
    expect(status.killedBy).toBeUndefined();
    // Gone, or a zombie waiting for whichever reaper adopted it: either way no longer running. A signal
    // reaches a task in an uninterruptible wait only when the wait ends, so allow a loaded host up to 5 s.
    expect(await settledState(grandchild, 5_000)).toMatch(/^(gone|Z)$/);
  });

  it('a workload cannot signal its guard or its init: kill -9 of every process it sees reaches none of them', async () => {
    // The attack: kill -9 its parent (the namespace's init), pid 1 and every process it may signal, then finish.
    const sandbox = await tier.start({
      command: '/bin/sh',
      args: ['-c', 'kill -9 $PPID; kill -9 1; kill -9 -1; echo pid $$ parent $PPID; exit 7'],
      manifest: manifest(),
    });
    const { out } = await collect(sandbox);
    const status = await sandbox.exit;
    expect([out.trim(), status.code]).toEqual(['pid 2 parent 1', 7]);
    expect((await tier.availability()).available && (await tier.availability())).toMatchObject({
      detail: expect.stringContaining('new PID namespace'),
    });
  });

  it('without PID namespaces: a workload that SIGKILLs its guard (same uid) dies with it, not unwatched', async () => {
    const fallback = new LightTier({ pollMs: 20, pidNamespace: false });
    expect(await fallback.availability()).toMatchObject({
      detail: expect.stringContaining('child subreaper'),
    });
    // The attack: kill the launcher's guard (its parent), then keep running.
    const sandbox = await fallback.start({
      command: '/bin/sh',
      args: ['-c', 'echo $$; kill -9 $PPID; exec /bin/sleep 300'],
      manifest: manifest(),
    });
    const workload = await new Promise<number>((resolve) =>
      sandbox.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    const status = await sandbox.exit;
    expect(status.signal).toBe('SIGKILL');
    // PR_SET_PDEATHSIG: the guard's death is the workload's. It dies when next scheduled, later than 1 s
    // on a loaded host; one the signal missed runs its 300 s sleep, far past this bound.
    expect(await settledState(workload, 10_000)).toMatch(/^(gone|Z)$/);
  });

  it('reports wall time and says it offers no isolation', async () => {
    const sandbox = await tier.start({ command: '/bin/sleep', args: ['0.2'], manifest: manifest() });
    await sandbox.exit;
    expect(sandbox.usage().wallMs).toBeGreaterThanOrEqual(150);
    expect(await tier.availability()).toMatchObject({ available: true });
  });
});
