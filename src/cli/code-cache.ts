import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/**
 * Whether a start ran its code from V8's code cache ('used'), or compiled it: no cache for this
 * code and this node ('absent'), one not trusted as the code itself ('untrusted': another owner, or
 * writable by group or others), or one V8 refused ('rejected': another V8, other flags, other code).
 */
export type CodeCacheUse = 'used' | 'absent' | 'untrusted' | 'rejected';

/** A CommonJS file run through V8's code cache, and the cache a start could write for it. */
export interface CachedModule<T> {
  readonly exports: T;
  readonly codeCache: CodeCacheUse;
  /** The code cache of the code as compiled so far (the functions this process ran included). */
  createCache(): Buffer;
}

/**
 * Node 20 has no code cache for ES modules (`module.enableCompileCache` is Node 22), so a
 * bundle built as CommonJS runs through `vm.Script`, in this wrapper, with the code cache made
 * for it by the build (scripts/bundle-cli.mjs). `oacpModuleUrl` stands for `import.meta.url`.
 */
const WRAP_HEAD = '(function (exports, require, module, oacpModuleUrl) {';
const WRAP_TAIL = '\n})';

/**
 * The cache's name for this code on this node: the build names it after the code's content hash
 * (so a cache never meets other code under its name) and the node that made it (another node's
 * V8 would refuse it anyway: it then compiles, at no cost beyond the missing file).
 */
export function codeCacheName(stem: string, contentHash: string, nodeVersion = process.version): string {
  return `${stem}-${contentHash}-${nodeVersion}.cache`;
}

/**
 * Runs the CommonJS file `file` with the code cache at `cacheFile` when it is as trusted as the code
 * (the same owner, writable by no one else: V8 runs what a cache holds), else compiles as usual.
 * Any failure to read the cache is a start without it.
 */
export function runThroughCodeCache<T>(file: string, cacheFile: string): CachedModule<T> {
  const owner = statSync(file).uid;
  const found = trustedCache(cacheFile, owner);
  const script = new Script(WRAP_HEAD + readFileSync(file, 'utf8') + WRAP_TAIL, {
    filename: file,
    ...(Buffer.isBuffer(found) ? { cachedData: found } : {}),
  });
  const loaded: { exports: T } = { exports: {} as T };
  (script.runInThisContext() as (e: T, r: NodeJS.Require, m: { exports: T }, url: string) => void)(
    loaded.exports,
    createRequire(file),
    loaded,
    pathToFileURL(file).href,
  );
  const codeCache: CodeCacheUse = Buffer.isBuffer(found)
    ? script.cachedDataRejected === true
      ? 'rejected'
      : 'used'
    : found;
  return { exports: loaded.exports, codeCache, createCache: () => script.createCachedData() };
}

/** The cache's bytes when it is a regular file of `owner` that neither group nor others may write. */
function trustedCache(cacheFile: string, owner: number): Buffer | 'absent' | 'untrusted' {
  let fd: number;
  try {
    fd = openSync(cacheFile, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return 'absent';
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.uid !== owner || (stats.mode & 0o022) !== 0) return 'untrusted';
    return readFileSync(fd);
  } catch {
    return 'absent';
  } finally {
    closeSync(fd);
  }
}
