import { OacpError } from '../../core/errors.js';
import { oneLine } from '../../core/terminal-text.js';
import type { PackageErrorCode } from './errors.js';

/** An npm package asked for by name, with an optional version or range (`latest` when absent). */
export interface PackageSpec {
  readonly name: string;
  /** Exact version, range or dist-tag as written; undefined means "the pinned one, else latest". */
  readonly range?: string;
}

// npm's own rules: lower-case, URL-safe, optional @scope/, at most 214 characters.
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
// A version, range or tag; no spaces, no shell or URL syntax (git/file/http specs are not packages from the registry).
const RANGE = /^[A-Za-z0-9.^~<>=*+|_-]{1,64}$/;

/** `@scope/name@1.2.3`, `name@^1`, `name`: the registry package it names. Anything else is refused. */
export function parsePackageSpec(text: string): PackageSpec {
  const at = text.indexOf('@', text.startsWith('@') ? 1 : 0);
  const name = at === -1 ? text : text.slice(0, at);
  const range = at === -1 ? undefined : text.slice(at + 1);
  if (name.length > 214 || !NAME.test(name)) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_SPEC',
      `"${printable(text)}" is not an npm package name (lower-case letters, digits, - . _ ~, optionally @scope/)`,
    );
  }
  if (range !== undefined && !RANGE.test(range)) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_SPEC',
      `"${printable(text)}": "${printable(range)}" is not a version, range or tag (only registry packages are supported, not git, file or URL specs)`,
    );
  }
  return range === undefined ? { name } : { name, range };
}

/** `npm:<spec>` as given to `oacp mcp add` / `oacp mcp run`; undefined for anything else. */
export function npmSchemeSpec(word: string | undefined): PackageSpec | undefined {
  if (word === undefined || !word.startsWith('npm:')) return undefined;
  return parsePackageSpec(word.slice(4));
}

export function specText(spec: PackageSpec): string {
  return spec.range === undefined ? spec.name : `${spec.name}@${spec.range}`;
}

/** The package name without its scope: the default server name (`@x/server-memory` -> `server-memory`). */
export function unscopedName(name: string): string {
  return name.replace(/^@[^/]+\//, '');
}

/** Text from the user shown back in a message: on one line (oneLine), at most 120 characters. */
export function printable(text: string): string {
  return oneLine(text, 120);
}
