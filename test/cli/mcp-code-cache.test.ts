import { createHash } from 'node:crypto';
import { chmodSync, chownSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CodeCacheUse, codeCacheName, runThroughCodeCache } from '../../src/cli/code-cache.js';
import { tempDir } from './harness.js';

/**
 * Issue 9: `oacp mcp …` runs from one CommonJS bundle through V8's code cache made by the build
 * (scripts/bundle-cli.mjs, src/cli/code-cache.ts). V8 runs what a cache holds, so a cache is used
 * only when it is named for this code and this node, and is as hard to write as the code; anything
 * else is a start that compiles, and still works.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'cli', 'bundle');
const MCP = join(BUNDLE, 'mcp.cjs');

interface McpEntry {
  runMcpCli(
    argv: readonly string[],
    output: { out(l: string): void; err(l: string): void },
    env: object,
  ): Promise<number>;
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** The bundle's content hash as the build names its cache, and the entry's copy of it. */
function builtHash(): string {
  return createHash('sha256').update(readFileSync(MCP)).digest('hex').slice(0, 16);
}

/** Runs the bundle with the cache at `cacheFile`; returns how the cache was used and what a refused tier prints. */
async function startWith(
  cacheFile: string,
): Promise<{ codeCache: CodeCacheUse; code: number; err: string[] }> {
  const loaded = runThroughCodeCache<McpEntry>(MCP, cacheFile);
  const err: string[] = [];
  const home = tempDir('oacp-code-cache-home-');
  made.push(home);
  const code = await loaded.exports.runMcpCli(
    ['--home', home, 'mcp', 'run', '--tier', 'nope', '--', 'true'],
    { out: () => undefined, err: (line) => err.push(line) },
    {},
  );
  process.exitCode = undefined;
  return { codeCache: loaded.codeCache, code, err };
}

/** A cache file in a folder of its own, holding `bytes`. */
function cacheHolding(bytes: Buffer): string {
  const dir = tempDir('oacp-code-cache-');
  made.push(dir);
  const file = join(dir, 'mcp.cache');
  writeFileSync(file, bytes, { mode: 0o644 });
  return file;
}

describe('oacp mcp through the code cache of the build', () => {
  it("the built cache is named for the bundle's content and this node, and the entry asks for that name", () => {
    const name = codeCacheName('mcp', builtHash());
    expect(name).toBe(`mcp-${builtHash()}-${process.version}.cache`);
    expect(readFileSync(join(BUNDLE, name)).length).toBeGreaterThan(0);
    expect(readFileSync(join(ROOT, 'dist', 'cli', 'main.js'), 'utf8')).toContain(JSON.stringify(builtHash()));
    // Another node's name is another file: none, so that node compiles.
    expect(codeCacheName('mcp', builtHash(), 'v99.0.0')).not.toBe(name);
  });

  it('the built cache is used, and the bundle from it still refuses a bad tier, naming the flag', async () => {
    const start = await startWith(join(BUNDLE, codeCacheName('mcp', builtHash())));
    expect(start.codeCache).toBe('used');
    expect(start.code).toBe(2);
    expect(start.err.join('\n')).toMatch(/--tier/);
  });

  it("a stale cache (another code's) is rejected by V8, and the start compiles and refuses as before", async () => {
    const stale = cacheHolding(readFileSync(join(BUNDLE, 'zod.cache')));
    const start = await startWith(stale);
    // Another account than the build's (uid 1000 here) cannot make a cache the code's owner's: it is not even read.
    expect(start.codeCache).toBe(statSync(MCP).uid === process.getuid?.() ? 'rejected' : 'untrusted');
    expect(start.code).toBe(2);
    expect(start.err.join('\n')).toMatch(/--tier/);
  });

  it('a cache others could write (group or world writable, another owner, a symlink) is never read: the start compiles', async () => {
    const built = readFileSync(join(BUNDLE, codeCacheName('mcp', builtHash())));
    const groupWritable = cacheHolding(built);
    chmodSync(groupWritable, 0o664);
    const worldWritable = cacheHolding(built);
    chmodSync(worldWritable, 0o646);
    for (const file of [groupWritable, worldWritable]) {
      const start = await startWith(file);
      expect(start.codeCache).toBe('untrusted');
      expect(start.code).toBe(2);
    }
    const linked = join(tempDir('oacp-code-cache-link-'), 'mcp.cache');
    made.push(join(linked, '..'));
    symlinkSync(join(BUNDLE, codeCacheName('mcp', builtHash())), linked);
    expect((await startWith(linked)).codeCache).toBe('absent');
    if (process.getuid?.() === 0) {
      const otherOwner = cacheHolding(built);
      chownSync(otherOwner, 1000, 1000);
      expect((await startWith(otherOwner)).codeCache).toBe('untrusted');
    }
  });

  it('without a cache the bundle compiles and works', async () => {
    const dir = tempDir('oacp-code-cache-none-');
    made.push(dir);
    const start = await startWith(join(dir, 'mcp.cache'));
    expect(start.codeCache).toBe('absent');
    expect(start.code).toBe(2);
  });
});
