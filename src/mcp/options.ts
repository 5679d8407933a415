import { resolve } from 'node:path';
import { z } from 'zod';
import { TIER_ORDER, type TierName } from '../airlock/sandbox.js';
import { hostLoopbackReason } from '../capability/address-policy.js';
import { parseHostPattern } from '../capability/host-pattern.js';
import { UNENFORCED_NAMES } from '../capability/manifest.js';
import { notUtf8PathProblem } from '../capability/path-glob.js';
import { OacpError } from '../core/errors.js';
import { isLoopbackAddress } from '../core/loopback.js';
import { MAX_UNREAD_ANSWER_BYTES, MIN_UNREAD_ANSWER_BYTES } from '../core/unread-answers.js';
import type { McpErrorCode } from './errors.js';
import { DEFAULT_MAX_SESSIONS } from './session-slots.js';

/**
 * The options of `oacp mcp run`, as commander hands them over (strings and
 * string arrays), parsed into values. The CLI wires flags to these names;
 * library callers may build the object directly.
 */

const UNITS_MB: Record<string, number> = { k: 1 / 1024, kb: 1 / 1024, m: 1, mb: 1, g: 1024, gb: 1024 };
const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000 };
const PER_MINUTE: Record<string, number> = { s: 60, sec: 60, m: 1, min: 1, h: 1 / 60, hour: 1 / 60 };

const SIZE_MESSAGE = 'must be a size such as 256mb or 1g, greater than 0';
const DURATION_MESSAGE = 'must be a duration such as 500ms, 2s or 1m, greater than 0';

/**
 * `256mb`, `1g`, `512` (MB): a whole number of megabytes. Zero is refused, not rounded up to
 * 1 MB: no limit is written by leaving the flag out.
 */
export const MemorySize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(k|kb|m|mb|g|gb)?$/i, SIZE_MESSAGE)
  .transform((text) => {
    const match = /^([\d.]+)\s*([a-z]*)$/i.exec(text.trim());
    return Number(match?.[1]) * (UNITS_MB[(match?.[2] ?? 'mb').toLowerCase() || 'mb'] ?? 1);
  })
  .refine((megabytes) => megabytes > 0, SIZE_MESSAGE)
  .transform((megabytes) => Math.ceil(megabytes));

/** `--allow-unenforced memory,pids` (repeatable): limits accepted without a kernel mechanism. */
export const UnenforcedList = z
  .array(z.string())
  .transform((values) =>
    values
      .flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(UNENFORCED_NAMES, { message: `must be one of ${UNENFORCED_NAMES.join(', ')}` })));

/** `500ms`, `2s`, `1m`, `1500` (ms). Zero is refused, not made 1 ms; below 1 ms is 1 ms. */
export const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(ms|s|m|min)?$/i, DURATION_MESSAGE)
  .transform((text) => {
    const match = /^([\d.]+)\s*([a-z]*)$/i.exec(text.trim());
    return Number(match?.[1]) * (UNITS_MS[(match?.[2] ?? 'ms').toLowerCase() || 'ms'] ?? 1);
  })
  .refine((ms) => ms > 0, DURATION_MESSAGE)
  .transform((ms) => Math.max(1, Math.round(ms)));

/** `60/min`, `5/s`, `1000/h`: calls per minute (fractions allowed). */
export const CallRate = z
  .string()
  .regex(/^\d+(\.\d+)?\/(s|sec|m|min|h|hour)$/i, 'must be a rate such as 60/min, 5/s or 1000/h')
  .transform((text) => {
    const [count, unit] = text.split('/');
    return Number(count) * (PER_MINUTE[(unit ?? 'min').toLowerCase()] ?? 1);
  })
  .refine((perMinute) => perMinute > 0, 'must allow at least some calls');

/** The trailing run of `:letters` of a file grant: its mode (checked by FileGrant). */
const GRANT_MODE = /(?::[A-Za-z]{1,8})+$/;

/**
 * `--allow-files ./data:rw` and `data` are the invoker's: the path part of a
 * relative grant is resolved against `base` (the invoker's cwd, or an
 * oacp.yaml's folder) here, once, as text; the mode stays as written. Nothing is
 * looked up: the grant is opened, checked (OACP home overlap...) and bound by
 * the same code as any absolute grant, at the same moment. An absolute grant,
 * an empty path (`:rw`) and `~` (the shell did not expand it) are left as
 * written, so FileGrant refuses them by name instead of granting `base`.
 */
export function absoluteFileGrant(text: string, base: string): string {
  const mode = GRANT_MODE.exec(text)?.[0] ?? '';
  const path = text.slice(0, text.length - mode.length);
  if (path === '' || path.startsWith('/') || path.startsWith('~')) return text;
  return `${resolve(base, path)}${mode}`;
}

/**
 * `--allow-files PATH[:ro|:rw]`: an absolute path or path glob, read-only unless `:rw`
 * (the CLI resolves a relative one first: absoluteFileGrant).
 * Any other `:mode` suffix (`/data:rx`), or more than one (`/data:rw:ro`), is refused, never
 * granted as a literal path: the trailing run of `:letters` is the mode, and it must be one.
 */
export const FileGrant = z
  .string()
  .transform((text, ctx) => {
    const mode = GRANT_MODE.exec(text)?.[0] ?? '';
    if (mode !== '' && mode !== ':ro' && mode !== ':rw') {
      ctx.addIssue({
        code: 'custom',
        message: `the grant mode "${mode}" must be one of :ro or :rw (PATH, PATH:ro or PATH:rw)`,
      });
      return z.NEVER;
    }
    return { path: text.slice(0, text.length - mode.length), writable: mode === ':rw' };
  })
  .refine(
    (grant) => grant.path.startsWith('/'),
    'must be an absolute path (the command line also takes one relative to the current folder; ~ is not expanded), optionally ending in :ro or :rw',
  )
  .superRefine((grant, ctx) => {
    const problem = notUtf8PathProblem(grant.path);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * `--allow-network HOST[:PORT]`. An entry naming loopback is refused: the
 * egress proxy dials from the host, so it would hand the sandbox the host's own
 * loopback services (and a name like `localhost` is refused at connect time
 * anyway), never the sandbox's. Other malformed entries are refused by the
 * manifest schema they land in.
 */
export const NetworkGrant = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    const pattern = parseHostPattern(text);
    const why = pattern === undefined ? undefined : hostLoopbackReason(pattern.host);
    if (why !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${why}, and loopback is the host's: the egress proxy dials from the host, so this would reach the host's own services, never the sandbox's (a server inside the sandbox reaches its own loopback without a grant)`,
      });
    }
  });

/** `--max-sessions 32`: a whole number of sessions, 1 to 10000. */
export const SessionCount = z
  .union([z.number(), z.string().regex(/^\d{1,5}$/, 'must be a whole number such as 32')])
  .transform(Number)
  .refine((count) => Number.isInteger(count) && count >= 1 && count <= 10_000, 'must be from 1 to 10000');

export const ConnectionCount = z
  .union([z.number(), z.string().regex(/^\d{1,6}$/, 'must be a whole number such as 1024')])
  .transform(Number)
  .refine(
    (count) => Number.isInteger(count) && count >= 1 && count <= 1_000_000,
    'must be from 1 to 1000000',
  );

/**
 * `--max-unread-answer-bytes`: from 1 MiB (below it, one answer waiting for a client that reads
 * a little slowly would be cut) to 16 GiB.
 */
export const UnreadAnswerBytes = z
  .union([z.number(), z.string().regex(/^\d{1,11}$/, 'must be a whole number of bytes such as 67108864')])
  .transform(Number)
  .refine(
    (bytes) =>
      Number.isInteger(bytes) && bytes >= MIN_UNREAD_ANSWER_BYTES && bytes <= MAX_UNREAD_ANSWER_BYTES,
    `must be from ${MIN_UNREAD_ANSWER_BYTES} (1 MiB) to ${MAX_UNREAD_ANSWER_BYTES} (16 GiB)`,
  );

/** `HOST:PORT` to listen on; `:PORT` or `PORT` means loopback. */
export const ListenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*)?:?\d{1,5}$/, 'must be HOST:PORT, such as 127.0.0.1:3333')
  .transform((text) => {
    const at = text.lastIndexOf(':');
    const host = at <= 0 ? '127.0.0.1' : text.slice(0, at).replace(/^\[|\]$/g, '');
    return { host, port: Number(text.slice(at + 1)) };
  })
  .refine((address) => address.port <= 65_535, 'port must be at most 65535');

const TierNameSchema = z.enum(TIER_ORDER as unknown as [TierName, ...TierName[]]);

/**
 * Why a server whose calls need approval never runs in the light tier: its workload runs as the home's
 * owner, so it could read the HTTP desk's token, write a decision into the home's approval spool, or
 * ptrace the bridge, and approve its own calls (test/escape/approval-self.test.ts).
 */
export const LIGHT_APPROVAL_REFUSAL =
  "the light tier runs servers as you, home included, so a server there could approve its own calls (the approval desk's token and the home's approval spool are readable to it); a server with --require-approval (require_approval in oacp.yaml) runs in tier hardened (the default) or gvisor";

export const McpRunOptionsSchema = z
  .strictObject({
    /** COMMAND ARGS... after `--`. */
    command: z.array(z.string().min(1)).default([]),
    /** Bridge a remote MCP server (Streamable HTTP) instead of starting one. */
    upstream: z.url().optional(),
    /** A catalog entry (catalog/NAME.yaml): its reviewed tool pins apply; without a command it names the server too. */
    catalog: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a catalog name (oacp mcp search lists them)')
      .optional(),
    /** oacp.yaml with several servers (`mcp.servers`). */
    config: z.string().min(1).optional(),
    /** The server's name in policies and receipts; defaults from the command. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be letters, digits, . _ -')
      .optional(),
    tier: TierNameSchema.default('hardened'),
    allowFiles: z.array(FileGrant).default([]),
    allowNetwork: z.array(NetworkGrant).default([]),
    allowEnv: z.array(z.string().min(1)).default([]),
    quotaMemory: MemorySize.optional(),
    /** `--quota-tmp`: size of the sandbox's /tmp tmpfs, which is also its HOME (`quotas.tmp_mb`). */
    quotaTmp: MemorySize.optional(),
    quotaCpu: Duration.optional(),
    /** `--quota-startup-cpu`: CPU a start may use (its first busy stretch) before --quota-cpu applies. */
    quotaStartupCpu: Duration.optional(),
    quotaCalls: CallRate.optional(),
    allowUnenforced: UnenforcedList.default([]),
    /** `--allow-unix-sockets`: sets `capabilities.unix_sockets` (hardened tier only). */
    allowUnixSockets: z.boolean().default(false),
    /** `--no-node-preload` (false): sets `capabilities.network.node_preload: false`. */
    nodePreload: z.boolean().default(true),
    tools: z.array(z.string()).default([]),
    policy: z.string().min(1).optional(),
    pins: z.string().min(1).optional(),
    requireApproval: z.array(z.string().min(1)).default([]),
    approvalTimeout: Duration.default(120_000),
    /** Argument fields (or `*`) whose values a person deciding an approval may see; the rest are hidden. */
    approvalShowArguments: z.array(z.string().min(1)).default([]),
    attestLevel: z.enum(['basic', 'standard']).default('basic'),
    /** Answer after the receipt's fsync (durable) or once it is signed and queued (queued). */
    receiptAck: z.enum(['durable', 'queued']).default('durable'),
    /** Deadline of every request forwarded to the server; the caller then gets an error (a tool call, a receipt). */
    requestTimeout: Duration.default(300_000),
    /** `--http`: a session with no request for this long ends and its server stops. */
    idleTimeout: Duration.default(900_000),
    /**
     * `--refusal-receipts N`: refused client messages (invalid, over the limits...) receipted one by one
     * per session and minute, ten times that for all sessions of a server; the rest are counted in
     * a summary receipt (default 30, and 300: refusal-receipts.ts).
     */
    refusalReceipts: z
      .union([z.number(), z.string().regex(/^\d{1,6}$/, 'must be a whole number such as 30')])
      .transform(Number)
      .refine(
        (count) => Number.isInteger(count) && count >= 1 && count <= 100_000,
        'must be from 1 to 100000',
      )
      .optional(),
    /** `--http`: sessions (each with its own server) served at once; more get 503 until one ends. */
    maxSessions: SessionCount.default(DEFAULT_MAX_SESSIONS),
    /** `--http`: connections held at once; absent, half the open-file limit (core/connection-cap.ts). */
    maxConnections: ConnectionCount.optional(),
    /** `--http`: bytes of answers held at once for clients that do not read them (core/unread-answers.ts). */
    maxUnreadAnswerBytes: UnreadAnswerBytes.optional(),
    /** Keystore agent the bridge runs as; needed for `--attest-level standard`. */
    agent: z.string().min(1).optional(),
    manifest: z.string().min(1).optional(),
    http: ListenAddress.optional(),
    /**
     * `--http-auth`: `bearer` (the default when absent) makes every MCP client send
     * `Authorization: Bearer <token>`; `none` opens the bridge to every local user, on loopback only.
     */
    httpAuth: z.enum(['bearer', 'none'], { message: 'must be bearer (the default) or none' }).optional(),
    /** `--http-token-file`: the client token, read once at start (0600: no access for group or other). */
    httpTokenFile: z.string().min(1).optional(),
    learn: z.boolean().default(false),
    /** Where `--learn` writes the manifest it learned (default ./<name>.learned.oacp.yaml). */
    learnOut: z.string().min(1).optional(),
  })
  .superRefine((options, ctx) => {
    const sources = [
      options.command.length > 0,
      options.upstream !== undefined,
      options.config !== undefined,
    ];
    if (sources.filter(Boolean).length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'give exactly one of: -- COMMAND [ARGS...], --upstream URL, --config FILE',
      });
    }
    for (const [key, flag] of [
      ['httpAuth', '--http-auth'],
      ['httpTokenFile', '--http-token-file'],
    ] as const) {
      if (options[key] !== undefined && options.http === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `${flag} needs --http HOST:PORT` });
    }
    if (options.httpAuth === 'none' && options.httpTokenFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['httpTokenFile'],
        message: 'a token file with --http-auth none: give one or the other',
      });
    }
    if (options.httpAuth === 'none' && options.http !== undefined && !isLoopbackAddress(options.http.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['httpAuth'],
        message: `${options.http.host} is not a loopback address: a bridge without client authentication listens on loopback only (drop --http-auth none and give clients the token)`,
      });
    }
    if (options.tier === 'light' && options.requireApproval.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['tier'], message: LIGHT_APPROVAL_REFUSAL });
    }
    if (options.attestLevel === 'standard' && options.agent === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['agent'],
        message: '--attest-level standard needs --agent NAME (the agent key that co-signs receipts)',
      });
    }
  });

export type McpRunOptions = z.output<typeof McpRunOptionsSchema>;
export type McpRunOptionsInput = z.input<typeof McpRunOptionsSchema>;

/** Parses options, refusing (never defaulting) anything malformed, with the flag named. */
export function parseMcpRunOptions(input: unknown): McpRunOptions {
  const parsed = McpRunOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag =
    issue?.path[0] === undefined
      ? 'options'
      : `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  // Name the value as `oacp run` does (`--allow-files /data:rx: ...`) when it is a short string.
  const value = issue === undefined ? undefined : valueAt(input, issue.path);
  const named = typeof value === 'string' && value.length <= 200 ? `${flag} ${value}` : flag;
  throw new OacpError<McpErrorCode>('MCP_BAD_OPTIONS', `${named}: ${issue?.message ?? 'invalid'}`);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || typeof key === 'symbol') return undefined;
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}
