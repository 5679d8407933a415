import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStatement } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { gossipCheck } from '../../src/log/gossip.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { toolCallPredicate } from '../attest/fixtures.js';
import { rootFromTiles } from '../log/tile-client.js';
import { oacp, tempDir } from './harness.js';

interface Home {
  home: string;
  env: NodeJS.ProcessEnv;
}

/** A home with `count` tool-call receipts; its signed-size state lives in its own folder outside it. */
async function homeWith(count: number, origin = 'oacp.test/audit'): Promise<Home> {
  const root = tempDir('oacp-logcli-');
  const home = join(root, 'home');
  const env = { OACP_LOG_STATE_DIR: join(root, 'state') };
  expect((await oacp(['--home', home, 'init', '--origin', origin], env)).code).toBe(0);
  await record({ home, env }, count);
  return { home, env };
}

async function record(target: Home, count: number, tag = 'read_file'): Promise<void> {
  const node = await OacpNode.open(target.home, target.env);
  try {
    for (let i = 0; i < count; i += 1) {
      const predicate = toolCallPredicate(undefined);
      const denied = i % 3 === 2;
      const { resultDigest: _omit, ...withoutResult } = predicate;
      await node.record(
        buildStatement({
          predicateType: TOOL_CALL_PREDICATE_TYPE,
          predicate: denied
            ? {
                ...withoutResult,
                tool: { ...predicate.tool, name: 'write_file' },
                policy: { ...predicate.policy, effect: 'deny', reason: 'outside \u001b[2Jthe workspace' },
              }
            : { ...predicate, tool: { ...predicate.tool, name: tag } },
        }),
      );
    }
  } finally {
    await node.close();
  }
}

const log = (target: Home, ...args: string[]) => oacp(['--home', target.home, 'log', ...args], target.env);
const walOf = (target: Home) => join(target.home, 'log', 'log.wal');

describe('oacp log list and show (the audit view)', () => {
  it('lists newest first with filters and paging, as a table or JSON, escaping workload text', async () => {
    const target = await homeWith(9);
    const table = await log(target, 'list');
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^INDEX\s+TIME\s+CALLER\s+SERVER\s+TOOL\s+DECISION\s+TIER\s+MS\s+VERIFIED$/);
    expect(lines[1]).toMatch(
      /^8\s+2026-01-01T00:00:00.000Z\s+claude-desktop\s+filesystem\s+write_file\s+deny: outside \\u001b\[2Jthe workspace\s+light\s+12\s+ok$/,
    );
    expect(table.stdout).not.toContain('\u001b');

    const denied = JSON.parse((await log(target, 'list', '--decision', 'deny', '--json')).stdout);
    expect(denied.entries.map((e: { index: number }) => e.index)).toEqual([8, 5, 2]);
    expect(denied.entries[0]).toMatchObject({
      tool: 'write_file',
      decision: 'deny',
      verified: true,
      tier: 'light',
    });

    const page = JSON.parse(
      (await log(target, 'list', '--tool', 'read_file', '--limit', '2', '--json')).stdout,
    );
    expect(page.entries.map((e: { index: number }) => e.index)).toEqual([7, 6]);
    const next = JSON.parse(
      (
        await log(
          target,
          'list',
          '--tool',
          'read_file',
          '--limit',
          '2',
          '--before',
          String(page.next),
          '--json',
        )
      ).stdout,
    );
    expect(next.entries.map((e: { index: number }) => e.index)).toEqual([4, 3]);
    expect(JSON.parse((await log(target, 'list', '--since', '1h', '--json')).stdout).entries).toEqual([]);
    expect(JSON.parse((await log(target, 'list', '--agent', 'nobody', '--json')).stdout).entries).toEqual([]);

    const bad = await log(target, 'list', '--decision', 'maybe');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/decision/);

    const shown = await log(target, 'show', '2');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/decision\s+deny/);
    expect(shown.stdout).toMatch(/verification\s+ok/);
    expect((await log(target, 'show', '99')).code).not.toBe(0);
  });

  it('reads a home nothing was appended to as an empty log, writing nothing', async () => {
    const target = await homeWith(0);
    const empty = await log(target, 'list');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('no matching entries (log size 0)');
    expect((await log(target, 'fsck')).code).toBe(0);
    expect((await log(target, 'list', '--limit', '0')).stderr).toMatch(/--limit/);
  });
});

describe('damage is refused, never repaired by deletion', () => {
  it('a flipped byte in a middle record: refused naming the record, bytes kept; fsck --repair rebuilds from tiles', async () => {
    const target = await homeWith(40);
    const wal = readFileSync(walOf(target));
    const damaged = Buffer.from(wal);
    const at = Math.floor(wal.length / 2);
    damaged.writeUInt8((damaged[at] ?? 0) ^ 0x01, at);
    writeFileSync(walOf(target), damaged);

    const refused = await log(target, 'checkpoint');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/LOG_CORRUPT.*record \d+ \(byte \d+\)/);
    expect(readFileSync(walOf(target))).toEqual(damaged);
    const fsck = await log(target, 'fsck');
    expect(fsck.code).not.toBe(0);
    expect(fsck.stdout).toMatch(/problem: log.wal record \d+/);

    const repaired = await log(target, 'fsck', '--repair');
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/rebuilt log.wal from the entry bundles/);
    expect(readFileSync(walOf(target))).toEqual(wal);
    const list = JSON.parse((await log(target, 'list', '--limit', '100', '--json')).stdout);
    expect(list.entries).toHaveLength(40);
  });

  it('a WAL cut inside signed records: refused, then rebuilt from tiles; nothing acknowledged is lost', async () => {
    const target = await homeWith(30);
    const wal = readFileSync(walOf(target));
    truncateSync(walOf(target), wal.length - 500);
    const refused = await log(target, 'checkpoint');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/LOG_CORRUPT/);
    expect(readFileSync(walOf(target)).length).toBe(wal.length - 500);
    expect((await log(target, 'fsck', '--repair')).code).toBe(0);
    expect(readFileSync(walOf(target))).toEqual(wal);
  });

  it('a tile cut short or deleted: detected, not served; fsck --repair rewrites it from the verified WAL', async () => {
    const target = await homeWith(300);
    const dir = join(target.home, 'log');
    const tile = join(dir, 'tile', '0', '000');
    const bytes = readFileSync(tile);
    truncateSync(tile, 100);
    const cut = await log(target, 'checkpoint');
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toMatch(/tile\/0\/000 is cut short/);
    rmSync(join(dir, 'tile', 'entries', '001.p'), { recursive: true });
    const fsck = await log(target, 'fsck');
    expect(fsck.code).not.toBe(0);
    const repaired = await log(target, 'fsck', '--repair');
    expect(repaired.code, `${repaired.stdout}\n${repaired.stderr}`).toBe(0);
    expect(readFileSync(tile)).toEqual(bytes);
    const checkpoint = (await log(target, 'checkpoint')).stdout.split('\n');
    expect(Buffer.from(rootFromTiles(dir, 300)).toString('base64')).toBe(checkpoint[2]);
  });

  it('a lagging checkpoint plus a cut WAL: never re-signs a smaller tree, exits non-zero', async () => {
    const target = await homeWith(5);
    const dir = join(target.home, 'log');
    const early = readFileSync(join(dir, 'checkpoint'));
    const walAtFive = readFileSync(walOf(target)).length;
    await record(target, 10);
    writeFileSync(join(dir, 'checkpoint'), early);
    truncateSync(walOf(target), walAtFive + 100);
    const refused = await log(target, 'checkpoint');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/LOG_FORK.*15/);
    const append = OacpNode.open(target.home, target.env);
    await expect(append).rejects.toMatchObject({ code: 'LOG_FORK' });
    expect(readFileSync(join(dir, 'checkpoint'))).toEqual(early);
  });
});

describe('forks are detected', () => {
  it('a copied home that signs another tree: refused on the same machine, caught by gossip and by a witness elsewhere', async () => {
    const original = await homeWith(4, 'oacp.test/fork');
    const root = tempDir('oacp-fork-');
    const copy: Home = { home: join(root, 'home'), env: original.env };
    cpSync(original.home, copy.home, { recursive: true });
    await record(original, 2, 'original_tool');
    // Same machine: the signed-size state outside the home knows size 6, the copy has 4.
    await expect(OacpNode.open(copy.home, copy.env)).rejects.toMatchObject({ code: 'LOG_FORK' });

    // Another machine (its own state): the copy appends a different history of the same size.
    const elsewhere: Home = { home: copy.home, env: { OACP_LOG_STATE_DIR: join(root, 'state') } };
    await record(elsewhere, 2, 'forked_tool');
    const a = await OacpNode.open(original.home, original.env, { readOnly: true });
    const b = await OacpNode.open(elsewhere.home, elsewhere.env, { readOnly: true });
    try {
      expect(a.log.size).toBe(b.log.size);
      const peerB = {
        checkpoint: async () => b.log.checkpoint(),
        consistency: async (f: number, t: number) => b.log.consistencyProof(f, t),
      };
      await expect(gossipCheck(a.log, a.log.verifierKey, peerB)).rejects.toMatchObject({ code: 'LOG_FORK' });
      // A consistent peer passes: the original against itself at a smaller size.
      const same = {
        checkpoint: async () => a.log.checkpoint(),
        consistency: async (f: number, t: number) => a.log.consistencyProof(f, t),
      };
      await expect(gossipCheck(a.log, a.log.verifierKey, same)).resolves.toMatchObject({ how: 'same tree' });

      // A witness that cosigned one history refuses the other with a security exit.
      const witnessHome = await homeWith(0, 'oacp.test/witness');
      expect((await oacp(['--home', witnessHome.home, 'agent', 'create', 'w1'], witnessHome.env)).code).toBe(
        0,
      );
      const files = tempDir('oacp-witness-');
      writeFileSync(join(files, 'key'), a.log.verifierKey);
      writeFileSync(join(files, 'a'), await a.log.checkpoint());
      writeFileSync(join(files, 'b'), await b.log.checkpoint());
      const witness = (name: string) =>
        oacp(
          [
            '--home',
            witnessHome.home,
            'log',
            'witness',
            join(files, name),
            '--log-key',
            join(files, 'key'),
            '--as',
            'w1',
          ],
          witnessHome.env,
        );
      expect((await witness('a')).code).toBe(0);
      const fork = await witness('b');
      expect(fork.code).toBe(3);
      expect(fork.stderr).toMatch(/SECURITY/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('audit paging bounds', () => {
  it('reads at most MAX_SCAN entries per page and hands back where to go on', async () => {
    const { listAudit, MAX_SCAN } = await import('../../src/node/audit-view.js');
    const size = MAX_SCAN + 10;
    let reads = 0;
    const source = {
      size,
      entry: async () => {
        reads += 1;
        return new TextEncoder().encode('not a receipt');
      },
    };
    const page = await listAudit(source, { tool: 'nothing' }, []);
    expect(page.entries).toEqual([]);
    expect(reads).toBe(MAX_SCAN);
    expect(page.next).toBe(10);
    const last = await listAudit(source, { tool: 'nothing', before: page.next }, []);
    expect(last.next).toBeUndefined();
  });
});
