import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JsonCacheFile } from './json-cache-file.js';

const Schema = z.strictObject({ version: z.literal(1), entries: z.record(z.string(), z.string()) });
const empty = () => ({ version: 1 as const, entries: {} });

describe('JsonCacheFile', () => {
  const dirs: string[] = [];
  const dir = () => {
    const made = mkdtempSync(join(tmpdir(), 'oacp-cache-'));
    dirs.push(made);
    return made;
  };
  afterEach(() => {
    for (const made of dirs.splice(0)) rmSync(made, { recursive: true, force: true });
  });

  it('writes whole (mode 0600, creating its folder) and reads back what it wrote', () => {
    const path = join(dir(), 'sub', 'cache.json');
    const cache = new JsonCacheFile(path, Schema, empty);
    expect(cache.read()).toEqual(empty());
    cache.write({ version: 1, entries: { a: 'b' } });
    expect(cache.read()).toEqual({ version: 1, entries: { a: 'b' } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, entries: { a: 'b' } });
  });

  it('attack: a tampered or malformed file is not taken: it reads as empty', () => {
    const path = join(dir(), 'cache.json');
    const cache = new JsonCacheFile(path, Schema, empty);
    writeFileSync(path, '{"version":1,"entries":{"a":"b"},"extra":true}');
    expect(cache.read()).toEqual(empty());
    writeFileSync(path, '{not json');
    expect(cache.read()).toEqual(empty());
    writeFileSync(path, '{"version":2,"entries":{}}');
    expect(cache.read()).toEqual(empty());
  });

  it('drops a write it cannot make (the folder is a file), without throwing', () => {
    const blocker = join(dir(), 'blocker');
    writeFileSync(blocker, '');
    const cache = new JsonCacheFile(join(blocker, 'cache.json'), Schema, empty);
    expect(() => cache.write({ version: 1, entries: { a: 'b' } })).not.toThrow();
    expect(cache.read()).toEqual(empty());
  });
});
