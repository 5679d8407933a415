import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { executionPath, resolveExecutable } from './executable.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `node_modules/.bin/NAME -> ../pkg/dist/index.js`, as npm links a package's bin. */
function binLink(content: string): { link: string; target: string } {
  const root = mkdtempSync(join(tmpdir(), 'oacp-exe-'));
  dirs.push(root);
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  mkdirSync(join(root, 'node_modules', 'pkg', 'dist'), { recursive: true });
  const target = join(root, 'node_modules', 'pkg', 'dist', 'index.js');
  writeFileSync(target, content);
  chmodSync(target, 0o755);
  const link = join(root, 'node_modules', '.bin', 'pkg');
  symlinkSync('../pkg/dist/index.js', link);
  return { link, target };
}

describe('executionPath', () => {
  it('runs a #! script reached through npm’s bin link at its real path, where its imports are', () => {
    const { link, target } = binLink('#!/usr/bin/env node\nimport "./config.js";\n');
    expect(executionPath(resolveExecutable(link))).toBe(target);
  });

  it('keeps the given path for a binary reached through a link (a multi-call binary reads its name)', () => {
    const { link } = binLink('');
    copyFileSync('/bin/true', join(link, '..', '..', 'pkg', 'dist', 'index.js'));
    expect(executionPath(resolveExecutable(link))).toBe(link);
  });

  it('keeps a script that is not a link where it is', () => {
    const { target } = binLink('#!/bin/sh\n');
    expect(executionPath(resolveExecutable(target))).toBe(target);
  });
});

describe('resolveExecutable', () => {
  it('refuses a bare name found only on the invoker’s PATH, naming the path that starts it', () => {
    const { link } = binLink('#!/usr/bin/env node\n');
    const bin = join(link, '..');
    expect(() => resolveExecutable('pkg', undefined, `${bin}:/usr/bin`)).toThrow(
      `your PATH finds ${link}: start it by that path`,
    );
  });
});
