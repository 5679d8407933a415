import { fstatSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OpenedPath } from '../grant-open.js';
import { encodeProgram } from '../seccomp/bpf.js';
import { buildWorkloadFilter } from '../seccomp/workload-filter.js';
import { buildLauncher } from './build.js';
import { cachedFile } from './cached-file.js';
import { type IdmapProbe, probeIdmap } from './idmap-probe.js';

/** The launcher program and the workload filter file a confined sandbox binds read-only. */
export interface Confinement {
  readonly program: string;
  readonly filter: string;
}

/**
 * Per-tier launcher state: the program is built (or found in the cache) on
 * the first start, the filter is encoded once; each sandbox gets its own copy
 * of the filter file in its private directory.
 */
export class Launcher {
  private program: string | undefined;
  private readonly filter = encodeProgram(buildWorkloadFilter());
  private withUnixSockets: Buffer | undefined;
  private idmapProbe: IdmapProbe | undefined;
  private readonly idmapByDevice = new Map<number, IdmapProbe>();

  constructor(private readonly compiler?: string) {}

  /** The program, built on first use; throws AIRLOCK_TIER_UNAVAILABLE without a C compiler. */
  built(): string {
    this.program ??= buildLauncher(this.compiler);
    return this.program;
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
