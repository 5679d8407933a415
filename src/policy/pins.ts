import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { allow, type Decision, deny } from '../core/decision.js';
import { OacpError } from '../core/errors.js';
import { inputFileFailure, readInputText } from '../core/input-file.js';
import { jcsDigest } from '../core/jcs.js';
import { looseName } from '../core/loose-name.js';
import { replaceFile } from '../core/replace-file.js';
import type { PolicyErrorCode } from './errors.js';
import { MemoryEventSink, type SecurityEventSink } from './events.js';

const PinFileSchema = z.strictObject({
  version: z.literal(1),
  tools: z.record(
    z.string(),
    z.strictObject({ digest: z.string().regex(/^[0-9a-f]{64}$/), pinnedAt: z.string() }),
  ),
});
type PinFile = z.infer<typeof PinFileSchema>;

export type PinObservation =
  | { readonly status: 'new'; readonly digest: string }
  | { readonly status: 'unchanged'; readonly digest: string }
  | { readonly status: 'changed'; readonly digest: string; readonly pinnedDigest: string };

/**
 * Trust on first use for tool definitions ("rug pull" defence): the first
 * definition seen for a server's tool is pinned by its JCS sha256; a later
 * different definition blocks calls to that tool until someone re-pins it.
 * `_meta` is left out of the digest because servers put volatile data there.
 */
export class ToolPins {
  readonly #path: string | undefined;
  readonly #events: SecurityEventSink;
  readonly #now: () => Date;
  readonly #file: PinFile;
  readonly #blocked = new Map<string, { pinned: string; observed: string }>();

  /** `path` persists pins across runs; without it they last as long as this object. */
  constructor(options: { path?: string; events?: SecurityEventSink; now?: () => Date } = {}) {
    this.#path = options.path;
    this.#events = options.events ?? new MemoryEventSink();
    this.#now = options.now ?? (() => new Date());
    this.#file = this.#path === undefined ? { version: 1, tools: {} } : readPins(this.#path);
  }

  static digest(definition: Readonly<Record<string, unknown>>): string {
    const { _meta: _ignored, ...rest } = definition;
    return jcsDigest(rest);
  }

  /** Records or checks one tool definition as listed by `server`. */
  observe(server: string, definition: Readonly<Record<string, unknown>> & { name: string }): PinObservation {
    const key = pinKey(server, definition.name);
    const digest = ToolPins.digest(definition);
    const pinned = this.#file.tools[key];
    if (pinned === undefined) {
      this.#file.tools[key] = { digest, pinnedAt: this.#now().toISOString() };
      this.#save();
      return { status: 'new', digest };
    }
    if (pinned.digest === digest) {
      this.#blocked.delete(key);
      return { status: 'unchanged', digest };
    }
    if (this.#blocked.get(key)?.observed !== digest) {
      this.#events.emit({
        type: 'tool-definition-changed',
        server,
        tool: definition.name,
        pinnedDigest: pinned.digest,
        observedDigest: digest,
        at: this.#now().toISOString(),
      });
    }
    this.#blocked.set(key, { pinned: pinned.digest, observed: digest });
    return { status: 'changed', digest, pinnedDigest: pinned.digest };
  }

  /** Whether calls to the tool may proceed: denied while its listed definition differs from the pin. */
  check(server: string, tool: string): Decision {
    const blocked = this.#blocked.get(pinKey(server, tool));
    if (blocked === undefined) {
      if (this.#file.tools[pinKey(server, tool)] === undefined) {
        const twin = this.#pinnedTwin(server, tool);
        if (twin !== undefined) {
          return deny(
            `tool "${tool}" was never listed by server "${server}" but reads as its tool "${twin}" (case, spacing or Unicode form): refused, since a server that matches names loosely would run "${twin}" unchecked`,
          );
        }
        return allow(
          `tool "${tool}" has no pin: the server never listed it, so there is no definition to compare`,
        );
      }
      return allow('tool definition matches its pin');
    }
    return deny(
      `tool "${tool}" on server "${server}" changed its definition since it was pinned ` +
        `(pinned sha256 ${blocked.pinned}, now ${blocked.observed}); review it and re-pin before calling it`,
    );
  }

  /**
   * Pins reviewed definitions before the server first lists them (the
   * catalog's pins): a tool already pinned here keeps its pin. A definition
   * listed later that differs is then caught on the very first start.
   * Returns how many pins were added.
   */
  preload(server: string, tools: readonly { readonly name: string; readonly digest: string }[]): number {
    let added = 0;
    for (const tool of tools) {
      const key = pinKey(server, tool.name);
      if (this.#file.tools[key] !== undefined) continue;
      this.#file.tools[key] = { digest: tool.digest, pinnedAt: this.#now().toISOString() };
      added++;
    }
    if (added > 0) this.#save();
    return added;
  }

  /** Accepts the currently observed definition after review. */
  repin(server: string, tool: string): void {
    const key = pinKey(server, tool);
    const blocked = this.#blocked.get(key);
    if (blocked === undefined) return;
    this.#file.tools[key] = { digest: blocked.observed, pinnedAt: this.#now().toISOString() };
    this.#blocked.delete(key);
    this.#save();
  }

  /** A tool of `server` pinned under another name that reads as `tool` loosely (looseName). */
  #pinnedTwin(server: string, tool: string): string | undefined {
    const prefix = pinKey(server, '');
    const wanted = looseName(tool);
    for (const key of Object.keys(this.#file.tools)) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length);
      if (name !== tool && looseName(name) === wanted) return name;
    }
    return undefined;
  }

  pinned(server: string, tool: string): string | undefined {
    return this.#file.tools[pinKey(server, tool)]?.digest;
  }

  #save(): void {
    if (this.#path === undefined) return;
    try {
      mkdirSync(dirname(this.#path), { recursive: true });
      // A random, exclusive temporary name: `--pins` may name a file in a directory a sandboxed server
      // may write, where a link planted under a predictable name (`<pins>.<pid>.tmp`) was written through.
      replaceFile(this.#path, `${JSON.stringify(this.#file, null, 2)}\n`, 0o600);
    } catch (error) {
      throw new OacpError<PolicyErrorCode>(
        'PINS_WRITE',
        `cannot write tool pins to ${this.#path}: ${text(error)}`,
      );
    }
  }
}

function pinKey(server: string, tool: string): string {
  return `${server}/${tool}`;
}

function readPins(path: string): PinFile {
  let raw: string;
  try {
    raw = readInputText(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tools: {} };
    throw new OacpError<PolicyErrorCode>(
      'PINS_READ',
      `cannot read tool pins from ${path}: ${inputFileFailure(error)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new OacpError<PolicyErrorCode>('PINS_READ', `tool pins file ${path} is not JSON: ${text(error)}`);
  }
  const parsed = PinFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OacpError<PolicyErrorCode>(
      'PINS_READ',
      `tool pins file ${path} is malformed at ${issue?.path.join('.') || 'top level'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
