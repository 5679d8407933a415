import { createHash } from 'node:crypto';
import { chmodSync, chownSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCacheName, runThroughCodeCache, trustedCodeCache } from '../../src/cli/code-cache.js';
import { startCli } from '../../src/cli/start.js';
import { tempDir } from './harness.js';

/**
 * Issue 9: `oacp mcp …` runs from one CommonJS bundle through V8's code cache made by the build
 * (scripts/bundle-cli.mjs, src/cli/code-cache.ts, src/cli/start.ts). V8 runs what a cache holds, so
 * a cache is used only when it is named for this code and this node and is as hard to write as the
 * code; anything else starts the ES module bundle as before, and a cache V8 refuses compiles.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'cli', 'bundle');
const MCP = join(BUNDLE, 'mcp.cjs');
const REFUSED_TIER = ['mcp', 'run', '--tier', 'nope', '--', 'true'];

interface McpEntry {
  runMcpCli(
    argv: readonly string[],
    output: { out(line: string): void; err(line: string): void },
    env: object,
  ): Promise<number>;
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function madeDir(prefix: string): string {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
}

/** The bundle's content hash as the build names its cache (and writes it into the entry). */
function builtHash(): string {
  return createHash('sha256').update(readFileSync(MCP)).digest('hex').slice(0, 16);
}

const builtCache = (): string => join(BUNDLE, codeCacheName('mcp', builtHash()));

/** Runs the bundle with `cachedData`; how the cache was used, and what a refused tier prints. */
async function runWith(cachedData: Buffer | undefined) {
  const loaded = runThroughCodeCache<McpEntry>(MCP, cachedData);
  const err: string[] = [];
  const code = await loaded.exports.runMcpCli(
    ['--home', madeDir('oacp-code-cache-home-'), ...REFUSED_TIER],
    { out: () => undefined, err: (line) => err.push(line) },
    {},
  );
  process.exitCode = undefined;
  return { codeCache: loaded.codeCache, code, err: err.join('\n') };
}

/** A cache file in a folder of its own, holding `bytes`, with this mode. */
function cacheHolding(bytes: Buffer, mode = 0o644): string {
  const file = join(madeDir('oacp-code-cache-'), 'mcp.cache');
  writeFileSync(file, bytes);
  chmodSync(file, mode);
  return file;
}

describe('oacp mcp through the code cache of the build', () => {
  it("the built cache is named for the bundle's content and this node, and the entry asks for that name", () => {
    expect(codeCacheName('mcp', builtHash())).toBe(`mcp-${builtHash()}-${process.version}.cache`);
    expect(readFileSync(join(ROOT, 'dist', 'cli', 'main.js'), 'utf8')).toContain(JSON.stringify(builtHash()));
    expect(Buffer.isBuffer(trustedCodeCache(builtCache(), MCP))).toBe(true);
    // Another node's name is another file: none, so that node starts the ES module bundle.
    expect(codeCacheName('mcp', builtHash(), 'v99.0.0')).not.toBe(codeCacheName('mcp', builtHash()));
  });

  it('the built cache is used, and the bundle from it still refuses a bad tier, naming the flag', async () => {
    const start = await runWith(trustedCodeCache(builtCache(), MCP) as Buffer);
    expect(start.codeCache).toBe('used');
    expect(start.code).toBe(2);
    expect(start.err).toMatch(/--tier/);
  });

  it("a stale cache (another code's) is rejected by V8: the bundle compiles and refuses as before", async () => {
    const start = await runWith(readFileSync(join(BUNDLE, 'zod.cache')));
    expect(start.codeCache).toBe('rejected');
    expect(start.code).toBe(2);
    expect(start.err).toMatch(/--tier/);
  });

  it('a cache others could write (group or world writable, another owner, a symlink, none) is never read', () => {
    const built = readFileSync(builtCache());
    // Another account than the code's owner (uid 1000 here when the build was root's) owns every cache it makes.
    const own = statSync(MCP).uid === process.getuid?.();
    const same = trustedCodeCache(cacheHolding(built), MCP);
    expect(own ? Buffer.isBuffer(same) && same.equals(built) : same === 'untrusted').toBe(true);
    expect(trustedCodeCache(cacheHolding(built, 0o664), MCP)).toBe('untrusted');
    expect(trustedCodeCache(cacheHolding(built, 0o646), MCP)).toBe('untrusted');
    const linked = join(madeDir('oacp-code-cache-link-'), 'mcp.cache');
    symlinkSync(builtCache(), linked);
    expect(trustedCodeCache(linked, MCP)).toBe('absent');
    expect(trustedCodeCache(join(madeDir('oacp-code-cache-none-'), 'mcp.cache'), MCP)).toBe('absent');
    if (process.getuid?.() === 0) {
      const otherOwner = cacheHolding(built);
      chownSync(otherOwner, 1000, 1000);
      expect(trustedCodeCache(otherOwner, MCP)).toBe('untrusted');
    }
  });

  it('without a trusted cache `oacp mcp` starts from the ES module bundle, as every other command does', async () => {
    const untrusted = madeDir('oacp-code-cache-dir-');
    symlinkSync(MCP, join(untrusted, 'mcp.cjs'));
    const writable = join(untrusted, codeCacheName('mcp', 'f00d'));
    writeFileSync(writable, readFileSync(builtCache()));
    chmodSync(writable, 0o666);
    const starts: string[] = [];
    for (const [argv, dir, contentHash] of [
      [REFUSED_TIER, untrusted, 'f00d'],
      [REFUSED_TIER, BUNDLE, '0000000000000000'],
      [['--version'], BUNDLE, builtHash()],
    ] as const) {
      await startCli(argv, { dir, contentHash }, async () => {
        starts.push(argv.join(' '));
      });
    }
    expect(starts).toEqual([REFUSED_TIER.join(' '), REFUSED_TIER.join(' '), '--version']);
    // Positive control: with the built cache, `oacp mcp` runs from the one file (its refusal's exit code), not the chunks.
    await startCli(
      ['--home', madeDir('oacp-code-cache-home-'), ...REFUSED_TIER],
      { dir: BUNDLE, contentHash: builtHash() },
      async () => {
        starts.push('chunks');
      },
    );
    expect(starts).toHaveLength(3);
    expect(process.exitCode).toBe(2);
    process.exitCode = undefined;
  });
});
