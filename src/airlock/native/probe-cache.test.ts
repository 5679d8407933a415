import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from './hardened.js';

const bwrapWorks = (await new HardenedTier({ freshProbe: true }).availability()).available;
const isRoot = process.getuid?.() === 0;

const base = mkdtempSync(join(tmpdir(), 'oacp-probe-cache-test-'));
// As root the probe runs as nobody: the wrapper and its record must be reachable and writable by it.
chmodSync(base, 0o755);
afterAll(() => rmSync(base, { recursive: true, force: true }));

let made = 0;
/**
 * A bwrap that records each run (one line in `runs`) and fails while `fail` exists, then runs the
 * real one: the probe is seen from outside, and its answer can change with the binary unchanged.
 */
function recordingBwrap(): { bwrap: string; runs: () => number; fail: string; cache: string } {
  const dir = join(base, `case-${made++}`);
  const runs = join(dir, 'runs');
  const fail = join(dir, 'fail');
  const cache = join(dir, 'cache');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  mkdirSync(cache, { mode: 0o700 });
  writeFileSync(runs, '', { mode: 0o666 });
  chmodSync(runs, 0o666);
  const bwrap = join(dir, 'bwrap');
  writeFileSync(
    bwrap,
    `#!/bin/sh\necho run >> ${runs}\n[ -e ${fail} ] && { echo 'no namespaces (test)' >&2; exit 1; }\nexec /usr/bin/bwrap "$@"\n`,
    { mode: 0o755 },
  );
  return {
    bwrap,
    runs: () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length,
    fail,
    cache,
  };
}

describe.skipIf(!bwrapWorks)("the hardened tier's probe, kept across processes", () => {
  it('a pass is kept: a later tier (another process) with the same bwrap, kernel and boot starts no probe', async () => {
    const host = recordingBwrap();
    const first = new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache });
    expect((await first.availability()).available).toBe(true);
    expect(host.runs()).toBe(1);
    const later = new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache });
    expect((await later.availability()).available).toBe(true);
    expect(host.runs()).toBe(1);
  });

  it('a failure is never kept: the host fixed since, the next tier probes again and is not refused from memory', async () => {
    const host = recordingBwrap();
    writeFileSync(host.fail, '');
    const refused = await new HardenedTier({
      bwrapPath: host.bwrap,
      probeCacheDir: host.cache,
    }).availability();
    expect(refused.available).toBe(false);
    expect(refused).toMatchObject({ available: false });
    expect(JSON.stringify(refused)).toContain('no namespaces (test)');
    rmSync(host.fail);
    const fixed = new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache });
    expect((await fixed.availability()).available).toBe(true);
    expect(host.runs()).toBe(2);
  });

  it('another bwrap binary (replaced in place, same path) is probed again, and its failure is reported', async () => {
    const host = recordingBwrap();
    expect(
      (await new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache }).availability()).available,
    ).toBe(true);
    // The same path, another program: one that cannot make namespaces.
    const replaced = `${host.bwrap}.new`;
    writeFileSync(
      replaced,
      `#!/bin/sh\necho run >> ${join(host.bwrap, '..', 'runs')}\necho 'replaced (test)' >&2\nexit 1\n`,
      {
        mode: 0o755,
      },
    );
    renameSync(replaced, host.bwrap);
    const after = await new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache }).availability();
    expect(after.available).toBe(false);
    expect(JSON.stringify(after)).toContain('replaced (test)');
    expect(host.runs()).toBe(2);
  });

  it('a kept pass others could have written is no answer: the probe runs (group/other-writable file, another owner, a symlink, an open directory)', async () => {
    const host = recordingBwrap();
    const tier = () => new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache });
    expect((await tier().availability()).available).toBe(true);
    const kept = join(host.cache, 'hardened-probe');
    expect(existsSync(kept)).toBe(true);
    const key = readFileSync(kept, 'utf8');
    let runs = 1;

    // Forged as a pass, but writable by others: probed again (and the probe's fail shows it ran).
    writeFileSync(host.fail, '');
    chmodSync(kept, 0o666);
    expect((await tier().availability()).available).toBe(false);
    expect(host.runs()).toBe(++runs);

    // Another owner's file.
    if (isRoot) {
      rmSync(kept);
      writeFileSync(kept, key, { mode: 0o644 });
      chownSync(kept, 1000, 1000);
      expect((await tier().availability()).available).toBe(false);
      expect(host.runs()).toBe(++runs);
    }

    // A symlink to a file with the right content.
    rmSync(kept);
    const elsewhere = join(base, `elsewhere-${made}`);
    writeFileSync(elsewhere, key, { mode: 0o644 });
    symlinkSync(elsewhere, kept);
    expect((await tier().availability()).available).toBe(false);
    expect(host.runs()).toBe(++runs);

    // The right file in a directory others may write.
    rmSync(kept);
    writeFileSync(kept, key, { mode: 0o644 });
    chmodSync(host.cache, 0o777);
    expect((await tier().availability()).available).toBe(false);
    expect(host.runs()).toBe(++runs);
    expect(statSync(kept).isFile()).toBe(true);
  });

  it('a wrong key in the file is no answer', async () => {
    const host = recordingBwrap();
    writeFileSync(join(host.cache, 'hardened-probe'), `${'0'.repeat(64)}\n`, { mode: 0o644 });
    writeFileSync(host.fail, '');
    expect(
      (await new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache }).availability()).available,
    ).toBe(false);
    expect(host.runs()).toBe(1);
  });

  it('freshProbe (oacp doctor) probes every time, a kept pass notwithstanding', async () => {
    const host = recordingBwrap();
    expect(
      (await new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache }).availability()).available,
    ).toBe(true);
    writeFileSync(host.fail, '');
    const fresh = new HardenedTier({ bwrapPath: host.bwrap, probeCacheDir: host.cache, freshProbe: true });
    expect((await fresh.availability()).available).toBe(false);
    expect(host.runs()).toBe(2);
  });
});
