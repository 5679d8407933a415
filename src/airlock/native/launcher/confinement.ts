import { fstatSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OpenedPath } from '../grant-open.js';
import { encodeProgram } from '../seccomp/bpf.js';
import { buildWorkloadFilter } from '../seccomp/workload-filter.js';
import { buildLauncher, makeScratch, trustedCacheDirectory } from './build.js';
import { cachedFile } from './cached-file.js';
import { type IdmapProbe, probeIdmap } from './idmap-probe.js';

/** The launcher program and the workload filter file a confined sandbox binds read-only. */
export interface Confinement {
  readonly program: string;
  readonly filter: string;
}

/** The launcher for one start or probe: `dir` keeps it (and may keep other helpers), until `release()`. */
export interface LauncherHold {
  readonly program: string;
  readonly dir: string;
  release(): void;
}

/** A launcher built where no cache is safe, removed when its last holder releases it. */
interface Scratch {
  readonly dir: string;
  readonly program: string;
  holds: number;
}

/**
 * Per-tier launcher state: the program is built (or found in the cache) on
 * the first start, the filter is encoded once; each sandbox gets its own copy
 * of the filter file in its private directory. Where no cache is safe, the
 * program is built into a private temporary directory that lives only while
 * some start or probe holds it (hold()): a long-running gateway leaves
 * nothing behind per start.
 */
export class Launcher {
  private program: string | undefined;
  private scratch: Scratch | undefined;
  private readonly filter = encodeProgram(buildWorkloadFilter());
  private withUnixSockets: Buffer | undefined;
  private idmapProbe: IdmapProbe | undefined;
  private readonly idmapByDevice = new Map<number, IdmapProbe>();

  constructor(private readonly compiler?: string) {}

  /**
   * The program for one start or probe, built on first use; throws AIRLOCK_TIER_UNAVAILABLE without a C
   * compiler. Every other method here needs a hold: release it once the program is no longer needed (the
   * sandbox is gone, or its launcher exec'd on the host).
   */
  hold(): LauncherHold {
    if (this.program !== undefined)
      return { program: this.program, dir: dirname(this.program), release: () => {} };
    if (this.scratch === undefined) {
      if (trustedCacheDirectory() !== undefined) {
        // Built (or found) in the cache, for every later start: nothing to remove.
        this.program = buildLauncher(this.compiler);
        return this.hold();
      }
      const dir = makeScratch();
      let program: string;
      try {
        program = buildLauncher(this.compiler, process.env, undefined, dir);
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      this.scratch = { dir, program, holds: 0 };
    }
    const scratch = this.scratch;
    scratch.holds++;
    let released = false;
    return {
      program: scratch.program,
      dir: scratch.dir,
      release: () => {
        if (released) return;
        released = true;
        scratch.holds--;
        if (scratch.holds > 0) return;
        if (this.scratch === scratch) this.scratch = undefined;
        rmSync(scratch.dir, { recursive: true, force: true });
      },
    };
  }

  /** The held program (see hold()); a use outside a hold is a bug, never a fresh build left behind. */
  private built(): string {
    const program = this.program ?? this.scratch?.program;
    if (program === undefined) throw new Error('the launcher is used outside a hold()');
    return program;
  }

  /** Whether idmapped grants work on the filesystem of `workRoot`; probed once per tier. */
  idmap(workRoot: string): IdmapProbe {
    this.idmapProbe ??= probeIdmap(this.built(), workRoot);
    return this.idmapProbe;
  }

  /** Whether this opened grant can be idmapped: probed once per filesystem (device) per tier. */
  idmapGrant(grant: OpenedPath, workRoot: string): IdmapProbe {
    const stat = fstatSync(grant.fd);
    let probe = this.idmapByDevice.get(stat.dev);
    if (probe === undefined) {
      probe = probeIdmap(this.built(), workRoot, {
        fd: grant.fd,
        directory: grant.directory,
        owner: { uid: stat.uid, gid: stat.gid },
      });
      this.idmapByDevice.set(stat.dev, probe);
    }
    return probe;
  }

  /**
   * Throws AIRLOCK_TIER_UNAVAILABLE when the launcher cannot be built (no C
   * compiler). `unixSockets`: the filter allows socket(AF_UNIX), only for a
   * sandbox that reaches no host socket (see buildWorkloadFilter).
   */
  prepare(dir: string, options: { readonly unixSockets?: boolean } = {}): Confinement {
    const program = this.built();
    const filter = join(dir, 'workload.bpf');
    writeFileSync(filter, this.code(options.unixSockets === true), { mode: 0o444 });
    return { program, filter };
  }

  /**
   * The program and the workload filter from the launcher's cache: no per-sandbox file. `unixSockets`
   * (the manifest's `capabilities.unix_sockets`): the filter that allows socket(AF_UNIX).
   */
  cached(options: { readonly unixSockets?: boolean } = {}): Confinement {
    const program = this.built();
    const unix = options.unixSockets === true;
    return {
      program,
      filter: cachedFile(
        dirname(program),
        unix ? 'workload-filter-unix' : 'workload-filter',
        this.code(unix),
      ),
    };
  }

  /** The encoded workload filter, with or without socket(AF_UNIX); each encoded once. */
  private code(unixSockets: boolean): Buffer {
    if (!unixSockets) return this.filter;
    this.withUnixSockets ??= encodeProgram(buildWorkloadFilter(undefined, { unixSockets: true }));
    return this.withUnixSockets;
  }
}
