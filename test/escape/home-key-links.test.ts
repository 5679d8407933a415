import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { type CliRun, isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9 (keys), closing note 5: a key file of the OACP home hard-linked into a granted
 * directory was bound into the sandbox (a directory grant is not walked). Now every start
 * refuses while a file of the home has a second name, `oacp doctor` says so, `oacp init`
 * writes every key with one name, and an entry of the home that cannot be checked refuses
 * the start instead of being skipped. Through the real CLI, as root and as uid 1000.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

interface Operator {
  readonly home: string;
  readonly grant: string;
  readonly env: NodeJS.ProcessEnv;
  readonly asUser: { uid: number; gid: number } | undefined;
  cli(args: readonly string[]): Promise<CliRun>;
  /** Every secret byte string of the home, as a sandbox's output could carry it. */
  secrets(): string[];
}

async function operator(asUser: { uid: number; gid: number } | undefined): Promise<Operator> {
  const root = openDir('oacp-key-links-');
  roots.push(root);
  const grant = join(root, 'grant');
  execFileSync('mkdir', ['-p', grant, join(root, 'user')]);
  writeFileSync(join(grant, 'notes.txt'), 'ordinary notes\n');
  if (asUser !== undefined) execFileSync('chown', ['-R', `${asUser.uid}:${asUser.gid}`, root]);
  const home = join(root, 'user', '.oacp');
  // The home by variable, so the subcommand comes first (the harness adds the uid-1000 limit opt-out after it).
  const env = { HOME: join(root, 'user'), OACP_HOME: home };
  const cli = (args: readonly string[]) => oacpCli(args, asUser === undefined ? { env } : { env, asUser });
  const init = await cli(['init']);
  expect(init.stderr).toBe('');
  expect((await cli(['agent', 'create', 'alice'])).code).toBe(0);
  const secrets = () => {
    const master = readFileSync(join(home, 'master.key'));
    const files = [
      join(home, 'keys', 'airlock.json'),
      join(home, 'keys', 'log.json'),
      join(home, 'agents', 'alice.json'),
    ];
    return [
      master.toString('hex'),
      master.toString('base64'),
      ...files.map((file) => (JSON.parse(readFileSync(file, 'utf8')) as { ciphertext: string }).ciphertext),
    ];
  };
  return { home, grant, env, asUser, cli, secrets };
}

function expectNoSecret(run: CliRun, secrets: readonly string[]): void {
  for (const secret of secrets) expect(run.stdout + run.stderr).not.toContain(secret);
}

describe('oacp init writes every key file with exactly one name', () => {
  it.each(users)('as %j', async (asUser) => {
    const { home } = await operator(asUser);
    const files = [
      'master.key',
      ...['keys', 'agents'].flatMap((dir) => readdirSync(join(home, dir)).map((name) => join(dir, name))),
    ];
    expect(files).toEqual(
      expect.arrayContaining(['master.key', 'keys/airlock.json', 'keys/log.json', 'agents/alice.json']),
    );
    for (const file of files)
      expect({ file, links: statSync(join(home, file)).nlink }).toEqual({ file, links: 1 });
  });
});

for (const tier of ['hardened', 'gvisor'] as const) {
  describe.skipIf(!available[tier])(`${tier}: a key hard-linked into a granted directory`, () => {
    // gVisor starts are slow: its attack runs as root only; the hardened tier as root and uid 1000.
    for (const asUser of tier === 'hardened' ? users : [undefined]) {
      const who = asUser === undefined ? 'the invoking user' : `uid ${asUser.uid}`;
      it(`is refused for ${who}, before anything runs, naming the key and printing none of it; doctor says so`, async () => {
        const op = await operator(asUser);
        const run = (file: string) =>
          op.cli(['run', '--tier', tier, '--allow-files', op.grant, '--', '/bin/cat', join(op.grant, file)]);
        // The grant works while no key has a second name.
        const before = await run('notes.txt');
        expect(before.stdout).toBe('ordinary notes\n');
        expect((await op.cli(['doctor'])).stdout).toMatch(/^home guard: ok/m);

        for (const key of ['master.key', 'keys/airlock.json', 'agents/alice.json']) {
          // The attack: a second name for the key inside the directory the sandbox is granted.
          const link = join(op.grant, 'x');
          linkSync(join(op.home, key), link);
          try {
            const attack = await run('x');
            expectNoSecret(attack, op.secrets());
            expect(attack.code).not.toBe(0);
            expect(attack.stderr).toContain(
              `AIRLOCK_KEY_HARD_LINKED: ${join(op.home, key)} of the OACP home has 2 hard links`,
            );
            // An innocent file of the same grant is refused too: nothing starts while the key has two names.
            if (key === 'master.key') {
              expect((await run('notes.txt')).stdout).toBe('');
              // Nor does a start that is granted nothing: the guard runs on every start.
              const bare = await op.cli(['run', '--tier', tier, '--', '/bin/echo', 'ran']);
              expect(bare.stdout).toBe('');
              expect(bare.code).not.toBe(0);
              expect(bare.stderr).toContain('AIRLOCK_KEY_HARD_LINKED');
            }
            const doctor = await op.cli(['doctor']);
            expect(doctor.stdout).toMatch(
              new RegExp(
                `^home guard: no: .*${key.replace('.', '\\.')} of the OACP home has 2 hard links`,
                'm',
              ),
            );
            expectNoSecret(doctor, op.secrets());
          } finally {
            unlinkSync(link);
          }
        }
        expect((await run('notes.txt')).stdout).toBe('ordinary notes\n');
      }, 180_000);
    }
  });
}

describe.skipIf(!available.hardened)(
  'hardened: an entry of the home that cannot be checked refuses the start',
  () => {
    it.skipIf(!isRoot)(
      'as uid 1000: keys/ or the home it cannot list, named, no key printed; a dangling symlink or a loop is no key',
      async () => {
        const op = await operator(REGULAR_USER);
        const run = () =>
          op.cli(['run', '--allow-files', op.grant, '--', '/bin/cat', join(op.grant, 'notes.txt')]);
        for (const dir of [join(op.home, 'keys'), op.home]) {
          // Listable no more, still enterable: a key inside could be bound under another name unseen.
          chmodSync(dir, 0o300);
          try {
            const refused = await run();
            expect(refused.code).not.toBe(0);
            expect(refused.stdout).toBe('');
            expect(refused.stderr).toContain(`AIRLOCK_PROTECTED_UNCHECKED: cannot check ${dir} (EACCES)`);
            expectNoSecret(refused, op.secrets());
            expect((await op.cli(['doctor'])).stdout).toMatch(/^home guard: no: cannot check .* \(EACCES\)/m);
          } finally {
            chmodSync(dir, 0o700);
          }
        }
        // ENOENT and ELOOP name no file: not a reason to refuse.
        symlinkSync(join(op.home, 'nowhere'), join(op.home, 'dangling'));
        symlinkSync(join(op.home, 'loop'), join(op.home, 'loop'));
        expect((await run()).stdout).toBe('ordinary notes\n');
      },
      120_000,
    );

    it('as the invoking user: an entry whose name cannot be resolved (ENAMETOOLONG) refuses, named', async () => {
      const op = await operator(undefined);
      const entry = join(op.home, 'keys', 'odd');
      symlinkSync(`/${'a'.repeat(300)}`, entry);
      const refused = await op.cli([
        'run',
        '--allow-files',
        op.grant,
        '--',
        '/bin/cat',
        join(op.grant, 'notes.txt'),
      ]);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(`AIRLOCK_PROTECTED_UNCHECKED: cannot check ${entry} (ENAMETOOLONG)`);
    });
  },
);
