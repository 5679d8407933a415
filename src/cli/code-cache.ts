import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** Whether code ran from V8's code cache ('used'), or was compiled: given none ('compiled'), or V8 refused it ('rejected': another V8, other flags, other code). */
export type CodeCacheUse = 'used' | 'compiled' | 'rejected';

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
 * Runs the CommonJS file `file`, with `cachedData` (a trusted cache: trustedCodeCache) when given,
 * else compiled as usual; V8 compiles it too when it refuses the cache.
 */
export function runThroughCodeCache<T>(file: string, cachedData?: Buffer): CachedModule<T> {
  const script = new Script(WRAP_HEAD + readFileSync(file, 'utf8') + WRAP_TAIL, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const loaded: { exports: T } = { exports: {} as T };
  (script.runInThisContext() as (e: T, r: NodeJS.Require, m: { exports: T }, url: string) => void)(
    loaded.exports,
    createRequire(file),
    loaded,
    pathToFileURL(file).href,
  );
  const codeCache: CodeCacheUse =
    cachedData === undefined ? 'compiled' : script.cachedDataRejected === true ? 'rejected' : 'used';
  return { exports: loaded.exports, codeCache, createCache: () => script.createCachedData() };
}

/**
 * The bytes of the cache at `cacheFile` when it is as trusted as the code in `codeFile` (V8 runs
 * what a cache holds): a regular file, not a symlink, of the code's owner, that neither group nor
 * others may write. Any failure to read it is 'absent'.
 */
export function trustedCodeCache(cacheFile: string, codeFile: string): Buffer | 'absent' | 'untrusted' {
  let owner: number;
  let fd: number;
  try {
    owner = statSync(codeFile).uid;
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
