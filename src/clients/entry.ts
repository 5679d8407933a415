/** One server as clients write it (the fields OACP reads; others are kept as they are). */
export interface ServerEntry {
  readonly command?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly url?: string;
  readonly type?: string;
  readonly headers?: unknown;
  readonly [other: string]: unknown;
}

/** How clients should start OACP: an executable and the arguments before `mcp run`. */
export interface OacpLauncher {
  readonly command: string;
  readonly args: readonly string[];
}

export type WrapOutcome =
  | { readonly kind: 'wrapped'; readonly entry: ServerEntry }
  | { readonly kind: 'already'; readonly entry: ServerEntry }
  | { readonly kind: 'skipped'; readonly entry: ServerEntry; readonly reason: string };

/** Whether the entry already starts `… mcp run …` through OACP. */
export function isWrapped(entry: ServerEntry, launcher: OacpLauncher): boolean {
  const args = entry.args ?? [];
  return (
    entry.command === launcher.command &&
    launcher.args.every((arg, index) => args[index] === arg) &&
    args[launcher.args.length] === 'mcp' &&
    args[launcher.args.length + 1] === 'run'
  );
}

/**
 * The entry rewritten so the client starts the same server through
 * `oacp mcp run`: a local command after `--` (its env names passed through
 * with --allow-env, the values staying in the client's file), a remote URL
 * as `--upstream`. A remote server with custom headers is left alone: the
 * bridge cannot send them.
 */
export function wrapEntry(name: string, entry: ServerEntry, launcher: OacpLauncher): WrapOutcome {
  if (isWrapped(entry, launcher)) return { kind: 'already', entry };
  const env = entry.env ?? {};
  const allowEnv = Object.keys(env).flatMap((key) => ['--allow-env', key]);
  const head = [...launcher.args, 'mcp', 'run', '--name', safeName(name)];
  if (entry.command !== undefined) {
    return {
      kind: 'wrapped',
      entry: {
        ...entry,
        command: launcher.command,
        args: [...head, ...allowEnv, '--', entry.command, ...(entry.args ?? [])],
      },
    };
  }
  if (typeof entry.url === 'string') {
    if (entry.headers !== undefined) {
      return {
        kind: 'skipped',
        entry,
        reason: 'a remote server with custom headers (the bridge cannot send them)',
      };
    }
    const { url: _url, type, headers: _headers, ...rest } = entry;
    return {
      kind: 'wrapped',
      entry: {
        ...rest,
        ...(type === undefined ? {} : { type: 'stdio' }),
        command: launcher.command,
        args: [...head, ...allowEnv, '--upstream', entry.url],
      },
    };
  }
  return { kind: 'skipped', entry, reason: 'neither a command nor a url' };
}

/** Client keys may hold anything; OACP server names are letters, digits, . _ - (at most 64). */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned.slice(0, 64) || 'server';
}
