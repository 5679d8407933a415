import { type ProcessFigures, readProportionalBytes } from './proc-stats.js';

/** How long a proportional figure stands in for a fresh one (see below). */
const REREAD_MS = 1000;

/**
 * Whether a process tree is over its memory limit, as the polled fallback
 * (no memory cgroup) counts it. Summed resident sizes count a page shared
 * by N processes N times: a headless chromium (browser, zygote, renderer,
 * GPU and utility processes sharing its binary and shared memory) sums to
 * 906 MiB of VmRSS for 375 MiB of proportional set size, so a browser
 * server was killed at a 512 MiB limit it was far from. A summed RSS over
 * the limit is therefore confirmed by the tree's proportional set size
 * (smaps_rollup's Pss, each sharer charged its fraction), what the tree
 * itself holds. Pss costs a page-table walk per process, so it is read only
 * while the summed RSS is over the limit, and between reads it is bounded
 * above by the last Pss plus each process's growth in RSS since (a new
 * process counts whole; a process of the tree unmapping or exiting never
 * raises the tree's share). Only a sharer outside the tree exiting raises
 * it without that: the Pss is read again at least every second.
 */
export class ResidentMemory {
  private last: { bytes: number; at: number; rssByPid: ReadonlyMap<number, number> } | undefined;

  constructor(private readonly readPss: (pid: number) => number | undefined = readProportionalBytes) {}

  over(figures: ProcessFigures, limitBytes: number, now: number): boolean {
    // Pss never exceeds RSS: under the limit by RSS is under it by any count.
    if (figures.rssBytes <= limitBytes) return false;
    if (this.last !== undefined && now - this.last.at < REREAD_MS) {
      let bound = this.last.bytes;
      for (const [pid, rss] of figures.rssByPid)
        bound += Math.max(0, rss - (this.last.rssByPid.get(pid) ?? 0));
      if (bound <= limitBytes) return false;
    }
    let bytes = 0;
    // A process whose Pss cannot be read (gone, or not ours to read) counts its whole RSS.
    for (const [pid, rss] of figures.rssByPid) bytes += this.readPss(pid) ?? rss;
    this.last = { bytes, at: now, rssByPid: figures.rssByPid };
    return bytes > limitBytes;
  }
}
