import { copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './harness.js';

/**
 * Issue 9: the CLI bundle runs zod (its largest module) and commander through V8's code cache,
 * made by `npm run build` (scripts/bundle-cli.mjs). Each cache must be the one V8 accepts for the
 * code beside it, and a start without it, or with a cache V8 rejects, must compile as before.
 */
const BUNDLE = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bundle');

type ZodModule = { z: typeof import('zod').z; codeCache: 'used' | 'compiled' };

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** zod's module and code from the build, in a folder of their own, with `cache` as zod.cache (none when undefined). */
async function zodWith(cache: Buffer | undefined): Promise<ZodModule> {
  const dir = tempDir('oacp-zod-cache-');
  made.push(dir);
  copyFileSync(join(BUNDLE, 'zod.js'), join(dir, 'zod.js'));
  copyFileSync(join(BUNDLE, 'zod.cjs'), join(dir, 'zod.cjs'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  if (cache !== undefined) writeFileSync(join(dir, 'zod.cache'), cache);
  return (await import(pathToFileURL(join(dir, 'zod.js')).href)) as ZodModule;
}

describe('zod and commander through the code cache of the build', () => {
  it('the built cache is accepted for the built code, and zod works from it', async () => {
    expect(existsSync(join(BUNDLE, 'zod.cache'))).toBe(true);
    const built = (await import(pathToFileURL(join(BUNDLE, 'zod.js')).href)) as ZodModule;
    expect(built.codeCache).toBe('used');
    const schema = built.z.strictObject({ name: built.z.string().min(1) });
    expect(schema.safeParse({ name: 'a' }).success).toBe(true);
    expect(schema.safeParse({ name: '' }).success).toBe(false);
    expect(schema.safeParse({ name: 'a', extra: 1 }).success).toBe(false);
  });

  it("commander's built cache is accepted, and commander parses and refuses from it", async () => {
    const built = (await import(pathToFileURL(join(BUNDLE, 'commander.js')).href)) as {
      Command: typeof import('commander').Command;
      CommanderError: typeof import('commander').CommanderError;
      codeCache: 'used' | 'compiled';
    };
    expect(built.codeCache).toBe('used');
    const seen: string[] = [];
    const program = new built.Command('t').exitOverride().configureOutput({ writeOut() {}, writeErr() {} });
    program
      .command('run')
      .option('--tier <tier>')
      .action((flags: { tier?: string }) => {
        seen.push(flags.tier ?? '');
      });
    program.parse(['run', '--tier', 'light'], { from: 'user' });
    expect(seen).toEqual(['light']);
    expect(() => program.parse(['run', '--bogus'], { from: 'user' })).toThrow(built.CommanderError);
  });

  it('without a cache, or with one V8 rejects, zod is compiled and still refuses what it should', async () => {
    for (const cache of [undefined, Buffer.from('not a code cache'.repeat(64))]) {
      const zod = await zodWith(cache);
      expect(zod.codeCache).toBe('compiled');
      const schema = zod.z.strictObject({ count: zod.z.number().int() });
      expect(schema.safeParse({ count: 2 }).success).toBe(true);
      expect(schema.safeParse({ count: 2.5 }).success).toBe(false);
    }
  });
});
