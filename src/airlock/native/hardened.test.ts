import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../capability/manifest.js';
import { detectCgroupHost } from '../cgroups/index.js';
import type { ProcessSandbox } from '../sandbox.js';
import { HardenedTier } from './hardened.js';
import { WORKLOAD_ID } from './identity.js';

const tier = new HardenedTier();
const available = (await tier.availability()).available;
if (!available) console.log('skipping hardened tier tests:', await tier.availability());

const dir = mkdtempSync(join(tmpdir(), 'oacp-hardened-test-'));
writeFileSync(join(dir, 'in.txt'), 'granted input');
mkdirSync(join(dir, 'out'));
// As root the sandbox runs as a dedicated id, which must be able to reach the grants; the write
// grant is root's own (idmapped): one every account may write is refused as root.
chmodSync(dir, 0o755);
const isRoot = process.getuid?.() === 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The limits this account cannot enforce here (every cgroup v1 controller
 * as a regular user), accepted so these tests of grants and environment
 * also run as uid 1000; as root the list is empty. The refusal without the
 * opt-out is test/escape/native-unenforced.test.ts.
 */
const UNENFORCEABLE = Object.entries(detectCgroupHost())
  .filter(([, support]) => !support.available)
  .map(([controller]) => (controller === 'io' ? 'disk_io' : controller));

function manifest(capabilities: Record<string, unknown> = {}) {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'hardened-test',
    capabilities,
    quotas: { allow_unenforced: UNENFORCEABLE },
  });
}

async function output(sandbox: ProcessSandbox): Promise<string> {
  let out = '';
  sandbox.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  sandbox.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await sandbox.exit;
  return out;
}

describe.skipIf(!available)('hardened tier', () => {
  it('runs node over stdio with only the allowed environment', async () => {
    const sandbox = await tier.start({
      command: process.execPath,
      args: [
        '-e',
        'process.stdin.on("data", d => process.stdout.write(JSON.stringify({ got: String(d), env: process.env })))',
      ],
      manifest: manifest({ env: ['KEEP'] }),
      env: { KEEP: 'kept', CANARY: 'host-secret' },
    });
    sandbox.stdin.end('ping');
    const result = JSON.parse(await output(sandbox)) as { got: string; env: Record<string, string> };
    expect(result.got).toBe('ping');
    expect(result.env.KEEP).toBe('kept');
    expect(result.env.CANARY).toBeUndefined();
    expect(result.env.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(await sandbox.exit).toEqual({ code: 0, signal: null });
  });

  it('reads granted files and writes only to the write grant', async () => {
    const sandbox = await tier.start({
      command: '/bin/sh',
      args: [
        '-c',
        `cat ${dir}/in.txt; echo; echo out > ${dir}/out/x; echo $?; (echo no >> ${dir}/in.txt) 2>/dev/null; echo $?; echo no > ${dir}/nope; echo $?`,
      ],
      manifest: manifest({ file_read: [`${dir}/in.txt`], file_write: [`${dir}/out/**`] }),
      implicitReadPaths: [],
    });
    const text = await output(sandbox);
    // Appending to the read-only grant fails; a new file beside it lands in the private tmpfs, not the host.
    expect(text.split('\n').slice(0, 4)).toEqual(['granted input', '0', '2', '0']);
    expect(readFileSync(join(dir, 'in.txt'), 'utf8')).toBe('granted input');
    expect(readFileSync(join(dir, 'out/x'), 'utf8')).toBe('out\n');
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });

  it('runs in a granted working directory and refuses one that is not granted', async () => {
    const sandbox = await tier.start({
      command: '/bin/pwd',
      args: [],
      manifest: manifest({ file_read: [`${dir}/**`] }),
      cwd: dir,
    });
    expect((await output(sandbox)).trim()).toBe(dir);
    await expect(
      tier.start({ command: '/bin/pwd', args: [], manifest: manifest(), cwd: dir }),
    ).rejects.toMatchObject({
      code: 'AIRLOCK_BAD_SPEC',
    });
  });

  it('never binds host /dev, /proc or /sys even when granted', async () => {
    await expect(
      tier.start({ command: '/bin/true', args: [], manifest: manifest({ file_write: ['/dev/**'] }) }),
    ).rejects.toMatchObject({
      code: 'AIRLOCK_BAD_SPEC',
      message: expect.stringMatching(/never binds host \/dev/),
    });
  });

  it('attack: a grant of /run is refused; it hid the launcher the sandbox starts through', async () => {
    for (const grant of [['/run'], ['/run/**']]) {
      await expect(
        tier.start({ command: '/bin/true', args: [], manifest: manifest({ file_read: grant }) }),
      ).rejects.toMatchObject({
        code: 'AIRLOCK_BAD_SPEC',
        message: expect.stringMatching(/keeps \/run\/oacp for its launcher/),
      });
    }
  });

  it('removes its host directory (proxy socket, synthetic /etc) when the workload exits', async () => {
    const workRoot = mkdtempSync(join(tmpdir(), 'oacp-workroot-'));
    chmodSync(workRoot, 0o755);
    const own = new HardenedTier({ workRoot });
    const sandbox = await own.start({
      command: '/bin/sh',
      args: ['-c', 'ls /run/oacp'],
      manifest: manifest({ network: { allowlist: ['127.0.0.1'] } }),
    });
    const listing = await output(sandbox);
    // With egress: the proxy socket and Node's preload with its undici part (docs/egress.md), beside the launcher and filter.
    expect(listing.trim().split('\n').sort()).toEqual([
      'egress.sock',
      'fetch-proxy-undici.cjs',
      'fetch-proxy.cjs',
      'launch',
      'workload.bpf',
    ]);
    expect(readdirSync(workRoot)).toEqual([]);
    rmSync(workRoot, { recursive: true, force: true });
  });

  it('refuses, naming TMPDIR, a work root under /dev/shm, which the capped tmpfs holder hides from bwrap', async () => {
    const workRoot = mkdtempSync('/dev/shm/oacp-workroot-');
    chmodSync(workRoot, 0o755);
    try {
      const own = new HardenedTier({ workRoot });
      await expect(
        own.start({
          command: '/bin/true',
          args: [],
          manifest: manifest({ network: { allowlist: ['127.0.0.1'] } }),
        }),
      ).rejects.toMatchObject({ code: 'AIRLOCK_BAD_SPEC', message: expect.stringMatching(/set TMPDIR/) });
    } finally {
      rmSync(workRoot, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('runs the workload as the dedicated id, never as host root', async () => {
    const sandbox = await tier.start({ command: '/usr/bin/id', args: ['-u'], manifest: manifest() });
    expect((await output(sandbox)).trim()).toBe(String(WORKLOAD_ID));
  });

  it.skipIf(!isRoot)('refuses, naming TMPDIR, a work root the sandbox uid cannot search', async () => {
    const work = mkdtempSync(join(tmpdir(), 'oacp-private-work-'));
    try {
      // Only a sandbox with egress needs a directory of its own there (its proxy socket).
      const egress = manifest({ network: { allowlist: ['example.com'] } });
      await expect(
        new HardenedTier({ workRoot: work }).start({ command: '/bin/true', args: [], manifest: egress }),
      ).rejects.toMatchObject({ code: 'AIRLOCK_BAD_SPEC', message: expect.stringContaining('set TMPDIR') });
      expect(readdirSync(work)).toEqual([]);
      // Without one, nothing is made under the work root: the /etc files and the filter are shared and read-only.
      const plain = await new HardenedTier({ workRoot: work }).start({
        command: '/bin/true',
        args: [],
        manifest: manifest(),
      });
      expect((await plain.exit).code).toBe(0);
      expect(readdirSync(work)).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('private writable grants of two owners: each written as its own owner', async () => {
    const mine = mkdtempSync(join(tmpdir(), 'oacp-mine-'));
    const theirs = mkdtempSync(join(tmpdir(), 'oacp-theirs-'));
    chownSync(theirs, 1000, 1000);
    try {
      const sandbox = await tier.start({
        command: '/bin/sh',
        args: ['-c', `echo a > ${mine}/f && echo b > ${theirs}/f && id -u`],
        manifest: manifest({ file_read: [], file_write: [`${mine}/**`, `${theirs}/**`] }),
      });
      expect((await output(sandbox)).trim()).toBe(String(WORKLOAD_ID));
      expect([statSync(join(mine, 'f')).uid, statSync(join(theirs, 'f')).uid]).toEqual([0, 1000]);
    } finally {
      rmSync(mine, { recursive: true, force: true });
      rmSync(theirs, { recursive: true, force: true });
    }
  });

  it('says what to install when bubblewrap is missing, and refuses to start', async () => {
    const missing = new HardenedTier({ bwrapPath: '/nonexistent/bwrap' });
    expect(await missing.availability()).toEqual({
      available: false,
      reason: 'bubblewrap not found at /nonexistent/bwrap',
      remedy: 'apt-get install bubblewrap',
    });
    await expect(
      missing.start({ command: '/bin/true', args: [], manifest: manifest() }),
    ).rejects.toMatchObject({
      code: 'AIRLOCK_TIER_UNAVAILABLE',
    });
  });

  it('refuses network grants when the forwarder (socat) is missing', async () => {
    const noSocat = new HardenedTier({ socatPath: '/nonexistent/socat' });
    await expect(
      noSocat.start({
        command: '/bin/true',
        args: [],
        manifest: manifest({ network: { allowlist: ['example.com'] } }),
      }),
    ).rejects.toMatchObject({ code: 'AIRLOCK_TIER_UNAVAILABLE', message: expect.stringMatching(/socat/) });
  });
});
