import { describe, expect, it } from 'vitest';
import { FilePolicy } from './file-policy.js';
import {
  globCovers,
  globMatches,
  normalizePath,
  type PathGlob,
  parsePathGlob,
  pathGlobProblem,
} from './path-glob.js';

function glob(text: string): PathGlob {
  const parsed = parsePathGlob(text);
  if (parsed === undefined) throw new Error(`test glob ${text} did not parse`);
  return parsed;
}

const matches = (pattern: string, path: string) => globMatches(glob(pattern), normalizePath(path) ?? '');

describe('normalizePath', () => {
  it('resolves . and .., collapses slashes and cannot climb above /', () => {
    expect(normalizePath('/data/./a//b/')).toBe('/data/a/b');
    expect(normalizePath('/data/../etc/passwd')).toBe('/etc/passwd');
    expect(normalizePath('/../../etc')).toBe('/etc');
  });

  it('refuses relative paths and NUL bytes', () => {
    expect(normalizePath('data/a')).toBeUndefined();
    expect(normalizePath('/data/a\0b')).toBeUndefined();
  });
});

describe('path globs', () => {
  it('`/data/*` is one level: not /data itself, not deeper', () => {
    expect(matches('/data/*', '/data/a')).toBe(true);
    expect(matches('/data/*', '/data/.env')).toBe(true);
    expect(matches('/data/*', '/data')).toBe(false);
    expect(matches('/data/*', '/data/a/b')).toBe(false);
    expect(matches('/data/*', '/database/a')).toBe(false);
  });

  it('`/data/**` is /data and everything below it', () => {
    expect(matches('/data/**', '/data')).toBe(true);
    expect(matches('/data/**', '/data/a/b/c')).toBe(true);
    expect(matches('/data/**', '/data2/a')).toBe(false);
  });

  it('judges the normalized path, so .. cannot escape a grant', () => {
    expect(matches('/data/**', '/data/../etc/passwd')).toBe(false);
    expect(matches('/data/**', '/data/x/../../data/y')).toBe(true);
  });

  it('supports * inside a segment and ** in the middle', () => {
    expect(matches('/logs/*.txt', '/logs/a.txt')).toBe(true);
    expect(matches('/logs/*.txt', '/logs/a.txt.gz')).toBe(false);
    expect(matches('/src/**/test/*.ts', '/src/test/a.ts')).toBe(true);
    expect(matches('/src/**/test/*.ts', '/src/a/b/test/a.ts')).toBe(true);
    expect(matches('/src/**/test/*.ts', '/src/a/b/a.ts')).toBe(false);
  });

  it('treats regex characters in names literally', () => {
    expect(matches('/a/(x)+.txt', '/a/(x)+.txt')).toBe(true);
    expect(matches('/a/*.txt', '/a/bXtxt')).toBe(false);
  });

  it('explains why a glob is refused', () => {
    expect(pathGlobProblem('data/**')).toBe('must be an absolute path glob (start with /)');
    expect(pathGlobProblem('/data/../etc')).toBe('must not contain .. segments');
    expect(pathGlobProblem('/data/a**')).toBe('** must be a whole path segment');
    expect(pathGlobProblem('/data/{a,b}')).toBe('only * and ** are supported as wildcards');
    expect(pathGlobProblem('/data/**')).toBeUndefined();
  });

  it('knows when one glob covers another, erring towards no', () => {
    expect(globCovers(glob('/data/**'), glob('/data/in/*.csv'))).toBe(true);
    expect(globCovers(glob('/data/**'), glob('/data/**'))).toBe(true);
    expect(globCovers(glob('/data/*'), glob('/data/a'))).toBe(true);
    expect(globCovers(glob('/data/*'), glob('/data/**'))).toBe(false);
    expect(globCovers(glob('/data/in/**'), glob('/data/**'))).toBe(false);
    expect(globCovers(glob('/*/x'), glob('/a/x'))).toBe(true);
    expect(globCovers(glob('/a*/x'), glob('/*/x'))).toBe(false);
  });
});

describe('FilePolicy', () => {
  const policy = FilePolicy.from({ file_read: ['/data/**'], file_write: ['/out/*'] });

  it('allows granted reads and writes with the matching glob as reason', () => {
    expect(policy.decide('/data/a/b', 'read')).toEqual({
      effect: 'allow',
      reason: '/data/a/b matches file_read glob /data/**',
      policyId: 'capability.file_read',
    });
    expect(policy.decide('/out/report.json', 'write').effect).toBe('allow');
  });

  it('denies ungranted access and does not let write imply read', () => {
    expect(policy.decide('/etc/passwd', 'read')).toEqual({
      effect: 'deny',
      reason: '/etc/passwd is not granted for read (file_read)',
      policyId: 'capability.file_read',
    });
    expect(policy.decide('/out/report.json', 'read').effect).toBe('deny');
    expect(policy.decide('/data/x', 'write').effect).toBe('deny');
    expect(policy.decide('relative/x', 'read').reason).toContain('not an absolute path');
  });
});
