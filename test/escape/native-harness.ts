import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EgressEvent } from '../../src/airlock/egress/audit.js';
import type { NativeSandbox } from '../../src/airlock/native/hardened.js';
import type { ExitStatus, ProcessSpec, Usage } from '../../src/airlock/sandbox.js';
import { type Manifest, ManifestSchema } from '../../src/capability/manifest.js';
import { PROBE_PROGRAM } from './native-probes.js';

export const PYTHON = '/usr/bin/python3';

/** A tier under attack: anything that starts a NativeSandbox. */
export interface AttackedTier {
  readonly name: string;
  start(spec: ProcessSpec): Promise<NativeSandbox>;
}

export interface RunResult {
  readonly out: string;
  readonly err: string;
  readonly status: ExitStatus;
  readonly usage: Usage;
  readonly events: readonly EgressEvent[];
}

export function manifest(
  capabilities: Record<string, unknown> = {},
  quotas: Record<string, number> = {},
  extraQuotas: Record<string, unknown> = {},
): Manifest {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'escape-corpus',
    capabilities,
    quotas: { ...quotas, ...extraQuotas },
  });
}

/** Runs a workload to completion and collects everything a test asserts on. */
export async function run(
  tier: AttackedTier,
  spec: Omit<ProcessSpec, 'env'> & { stdin?: string },
): Promise<RunResult> {
  const sandbox = await tier.start({ ...spec, env: process.env });
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  sandbox.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  sandbox.stdin.end(spec.stdin ?? '');
  const status = await sandbox.exit;
  return { out, err, status, usage: sandbox.usage(), events: sandbox.egressEvents() };
}

/**
 * Host-side scenery for the attacks: a secret beside a granted directory,
 * a symlink inside the grant pointing at it, a fake OACP home with a key, a
 * canary secret in this process's environment and a host process to target.
 */
export class Scenery {
  readonly root = mkdtempSync(join(tmpdir(), 'oacp-escape-'));
  readonly granted = join(this.root, 'granted');
  readonly writable = join(this.root, 'writable');
  readonly secret = join(this.root, 'secret.txt');
  readonly oacpHome = join(this.root, 'oacp-home');
  readonly canary = `canary-${randomUUID()}`;
  private sleeper: ChildProcess | undefined;

  constructor() {
    // Sandboxes run as nobody when the tests run as root: the grants must be reachable by it.
    chmodSync(this.root, 0o755);
    mkdirSync(this.granted, { mode: 0o755 });
    // The invoker's own folder (idmapped to the sandbox as root): a writable grant every account may
    // write (0777) is refused as root, since what one sandbox leaves there a later one could change.
    mkdirSync(this.writable, { mode: 0o755 });
    mkdirSync(join(this.oacpHome, 'keys'), { recursive: true });
    writeFileSync(this.secret, 'HOST SECRET');
    writeFileSync(join(this.oacpHome, 'keys/signer.pem'), 'PRIVATE KEY');
    writeFileSync(join(this.granted, 'ok.txt'), 'granted');
    symlinkSync(this.secret, join(this.granted, 'link-to-secret'));
    process.env.OACP_ESCAPE_CANARY = this.canary;
  }

  /** A host process the sandbox will try to signal and trace. */
  startSleeper(): number {
    this.sleeper = spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
    return this.sleeper.pid ?? -1;
  }

  sleeperAlive(): boolean {
    return this.sleeper !== undefined && this.sleeper.exitCode === null && this.sleeper.signalCode === null;
  }

  dispose(): void {
    this.sleeper?.kill('SIGKILL');
    delete process.env.OACP_ESCAPE_CANARY;
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Capabilities granting the scenery's read and write directories and nothing else. */
  capabilities(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { file_read: [`${this.granted}/**`], file_write: [`${this.writable}/**`], ...extra };
  }
}

/** Runs the probe program with the named probes; returns {probe: outcome}. */
export async function probe(
  tier: AttackedTier,
  scenery: Scenery,
  probes: readonly string[],
  hostPid: number,
): Promise<Record<string, string>> {
  const argument = JSON.stringify({
    probes,
    canary: scenery.canary,
    hostPid,
    granted: scenery.granted,
    oacpHome: scenery.oacpHome,
    hostFile: scenery.secret,
    ungranted: join(scenery.root, 'pwned'),
  });
  const result = await run(tier, {
    command: PYTHON,
    args: ['-c', PROBE_PROGRAM, argument],
    manifest: manifest(scenery.capabilities()),
  });
  const line = result.out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, string>;
  } catch {
    throw new Error(`probe run failed: ${JSON.stringify(result.status)} ${result.err.slice(0, 500)}`);
  }
}
