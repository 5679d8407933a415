import type { Readable, Writable } from 'node:stream';
import type { Manifest } from '../capability/manifest.js';
import type { RequestLimiter } from './egress/gate.js';

/** Tier names as the architecture seed's sandbox types, plus gVisor between hardened and TEE. */
export type TierName = 'light' | 'standard' | 'hardened' | 'gvisor' | 'tee';

/** Ordered weakest to strongest; "never silently weaker than asked" compares against this. */
export const TIER_ORDER: readonly TierName[] = ['light', 'standard', 'hardened', 'gvisor', 'tee'];

/** Whether a host can provide a tier, and if not, what to do about it. */
export type Availability =
  | { readonly available: true; readonly detail: string }
  | { readonly available: false; readonly reason: string; readonly remedy: string };

/** What a sandbox consumed; copied into receipts. */
export interface Usage {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly memoryPeakBytes: number;
  readonly egressRequests: number;
  readonly egressDenied: number;
  readonly outputBytes: number;
}

/** Nothing consumed: the usage of a call that never reached a sandbox. */
export const NO_USAGE: Usage = Object.freeze({
  wallMs: 0,
  cpuMs: 0,
  memoryPeakBytes: 0,
  egressRequests: 0,
  egressDenied: 0,
  outputBytes: 0,
});

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when OACP ended the workload, naming the quota or rule. */
  readonly killedBy?: string;
  /** With killedBy: what was used, the limit, and the flag or manifest field that raises it. */
  readonly detail?: string;
}

export interface Sandbox {
  readonly id: string;
  readonly tier: TierName;
  usage(): Usage;
  stop(): Promise<void>;
}

/**
 * A limit the workload met while it runs on: a program refused a thread at the pids limit may
 * hang rather than exit, so this is said as it happens, not only with a failed exit.
 */
export interface LimitNotice {
  /** The quota, as in `killedBy`. */
  readonly limit: string;
  /** What happened, the limit and the field or flag that raises it. */
  readonly detail: string;
}

/** A native process (light, hardened, gvisor) reached over stdio. */
export interface ProcessSandbox extends Sandbox {
  readonly kind: 'process';
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly exit: Promise<ExitStatus>;
  /** Resolves once, at the first limit met while the workload runs; never when none is. */
  readonly limitNotice?: Promise<LimitNotice>;
}

export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly manifest: Manifest;
  /** Host paths readable without a grant: the executable, its runtime, the script's package. */
  readonly implicitReadPaths?: readonly string[];
  /**
   * Host paths no grant may overlap (the OACP home: master key, keys, log);
   * `$OACP_HOME` and `~/.oacp` are always protected too.
   */
  readonly protectedPaths?: readonly string[];
  readonly cwd?: string;
  /** Candidate environment; only names the manifest allows survive. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The network_requests_per_min budget this sandbox's egress proxy takes from, shared by every
   * start of one server (quota/request-budget.ts); absent: a full budget of the sandbox's own.
   */
  readonly egressLimiter?: RequestLimiter;
}

export interface ProcessTier {
  readonly name: TierName;
  availability(): Promise<Availability>;
  start(spec: ProcessSpec): Promise<ProcessSandbox>;
  /**
   * Rejects with the refusal start() would give for this manifest whatever the program (limits
   * this host cannot enforce and the manifest did not opt out of), so a caller can refuse before
   * a side effect such as installing a package. A tier without such refusals omits it.
   */
  checkLimits?(manifest: Manifest): Promise<void>;
}

/** What one run of guest code produced. */
export interface CodeRunResult {
  readonly value: unknown;
  /** `console.log` / `oacp.log` lines, in order; they count towards max_output_bytes. */
  readonly logs: readonly string[];
  /** This run only; `Sandbox.usage()` is the running total. */
  readonly usage: Usage;
}

/** Guest code run by an interpreter inside OACP's own process (the standard tier). */
export interface CodeSandbox extends Sandbox {
  readonly kind: 'code';
  run(code: string, input?: unknown): Promise<CodeRunResult>;
}
