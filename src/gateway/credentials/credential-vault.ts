import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { namePatternMatches } from '../../capability/name-pattern.js';
import { OacpError } from '../../core/errors.js';
import { canonicalize } from '../../core/jcs.js';
import type { SecretValues } from '../../core/secret-values.js';
import type { CredentialRow, Repos, Store } from '../../store/index.js';
import type { CredentialErrorCode } from './errors.js';
import { InjectedSecrets, type Injection } from './injected-secrets.js';

const CredentialName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  error: 'must be 1-64 letters, digits, . _ - (starting alphanumeric)',
});
const ToolPattern = z
  .string()
  .min(1, { error: 'must not be empty' })
  .regex(/^[^\s*]*\*?$/, { error: 'must be a tool name, optionally ending in *, without spaces' });
// Variables that change how a process loads or finds code are not credentials; refusing them closes a side door.
const RESERVED_ENV = /^(LD_.*|DYLD_.*|NODE_OPTIONS|PATH|HOME|SHELL)$/;
/** RFC 9110 field values: visible characters, spaces and tabs; no CR, LF, NUL or other controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const HEADER_VALUE_CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;
const RESERVED_HEADERS = /^(host|content-length|transfer-encoding|connection|upgrade|te|trailer)$/i;
const Inject = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('env'),
    name: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
      .refine((name) => !RESERVED_ENV.test(name), { error: 'is reserved (it changes how a process runs)' }),
  }),
  z.strictObject({
    kind: z.literal('header'),
    name: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be an HTTP header name' })
      .refine((name) => !RESERVED_HEADERS.test(name), {
        error: 'is reserved (it controls the HTTP connection)',
      }),
  }),
]);
const CredentialInput = z
  .strictObject({
    name: CredentialName,
    agentId: z.string().min(1, { error: 'must not be empty' }),
    tool: ToolPattern,
    inject: Inject,
    value: z
      .string()
      .min(8, { error: 'must be at least 8 characters (shorter values cannot be redacted safely)' })
      .max(65_536, { error: 'must be at most 65536 characters' }),
  })
  .superRefine((input, context) => {
    // A header value holding CR or LF would add headers of its own to the tool's request; node
    // refuses NUL in an environment with an error that quotes the value. Refused when stored.
    const bad = input.inject.kind === 'header' ? HEADER_VALUE_CONTROL : /\0/;
    if (bad.test(input.value)) {
      const message =
        input.inject.kind === 'header'
          ? 'must be an HTTP header value: no CR, LF, NUL or other control characters'
          : 'must be an environment value: no NUL character';
      context.addIssue({ code: 'custom', path: ['value'], message });
    }
  });

export type CredentialInput = z.input<typeof CredentialInput>;

/**
 * The reserved holder of model provider keys: a credential of `oacp:models`
 * for the tool `models/<provider>` is injected (as a header) into the gateway's
 * requests to that provider, never into an agent's sandbox or answers.
 */
export const MODEL_PROVIDER_KEYS = 'oacp:models';

/** What describe() shows: everything about a credential except its value. */
export interface CredentialInfo {
  readonly name: string;
  readonly agentId: string;
  readonly tool: string;
  readonly inject: { readonly kind: 'env' | 'header'; readonly name: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

const KEY_INFO = 'oacp/credentials/v1';

/**
 * Secrets for tools (API tokens, passwords), scoped to one agent and one tool
 * (or a tool prefix `gh.*`), encrypted at rest with AES-256-GCM under
 * HKDF(master key, "oacp/credentials/v1"). The AAD binds the whole scope, so
 * a ciphertext moved to another agent, tool or injection target fails to
 * decrypt. Values never leave through describe(), errors or logs; the
 * gateway gets them only from resolveForCall(), wrapped in InjectedSecrets.
 */
export class CredentialVault {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #now: () => Date;
  readonly #secrets: SecretValues | undefined;
  #generation = 0;

  constructor(options: {
    readonly store: Store;
    readonly masterKey: Uint8Array;
    readonly now?: () => Date;
    /** Where every value this vault hands out is registered, so the gateway's logger and answers mask it. */
    readonly secrets?: SecretValues;
  }) {
    if (options.masterKey.length !== 32) {
      throw new OacpError<CredentialErrorCode>('CREDENTIAL_KEY_INVALID', 'the master key must be 32 bytes');
    }
    this.#store = options.store;
    this.#key = Buffer.from(hkdfSync('sha256', options.masterKey, new Uint8Array(0), KEY_INFO, 32));
    this.#now = options.now ?? (() => new Date());
    this.#secrets = options.secrets;
  }

  /** Stores or replaces the credential with this (name, agentId, tool). */
  async put(input: CredentialInput): Promise<CredentialInfo> {
    const parsed = CredentialInput.safeParse(input);
    if (!parsed.success) {
      // Issue messages are ours and never include the input, so the value cannot leak here.
      const issue = parsed.error.issues[0];
      throw new OacpError<CredentialErrorCode>(
        'CREDENTIAL_INVALID',
        `credential refused: ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const { name, agentId, tool, inject, value } = parsed.data;
    if (agentId !== MODEL_PROVIDER_KEYS && (await this.#store.agents.get(agentId)) === undefined) {
      throw new OacpError<CredentialErrorCode>(
        'CREDENTIAL_UNKNOWN_AGENT',
        `credential ${name} refused: there is no agent ${agentId}`,
      );
    }
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(aad(name, agentId, tool, inject.kind, inject.name));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const now = this.#now().toISOString();
    const existing = (await this.#store.credentials.forAgent(agentId)).find(
      (row) => row.name === name && row.tool === tool,
    );
    await this.#store.credentials.upsert({
      name,
      agentId,
      tool,
      injectKind: inject.kind,
      injectName: inject.name,
      nonce,
      ciphertext,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
    this.#generation += 1;
    // Once stored (a refused put registers nothing, so no caller masks log text by failing puts).
    this.#secrets?.add([value]);
    return { name, agentId, tool, inject, createdAt: existing?.createdAt ?? now, updatedAt: now };
  }

  /**
   * Counts the changes this vault has made (put, delete, an agent's removal), each after its
   * write: whoever keeps a resolved secret for a while (the model leg's provider keys) drops it
   * when the count it was read at is no longer current.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * The secrets to inject into one call of `toolName` by `agentId`: the
   * credentials of that agent whose tool pattern matches. When two target the
   * same variable or header, the more specific pattern (exact, then longer
   * prefix) wins.
   */
  async resolveForCall(agentId: string, toolName: string): Promise<InjectedSecrets> {
    const rows = (await this.#store.credentials.forAgent(agentId)).filter(
      (row) => row.agentId === agentId && namePatternMatches(row.tool, toolName),
    );
    const chosen = new Map<string, CredentialRow>();
    for (const row of rows) {
      const target = `${row.injectKind}:${row.injectKind === 'header' ? row.injectName.toLowerCase() : row.injectName}`;
      const current = chosen.get(target);
      if (current === undefined || specificity(row.tool) > specificity(current.tool)) chosen.set(target, row);
    }
    const injections: Injection[] = [...chosen.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((row) => ({
        credential: row.name,
        kind: row.injectKind === 'header' ? 'header' : 'env',
        name: row.injectName,
        value: this.#open(row),
      }));
    const injected = new InjectedSecrets(injections);
    this.#secrets?.add(injected.values());
    return injected;
  }

  /** Names, scopes and targets, never values. */
  async describe(filter: { readonly agentId?: string } = {}): Promise<CredentialInfo[]> {
    const rows =
      filter.agentId === undefined
        ? await this.#store.credentials.list()
        : await this.#store.credentials.forAgent(filter.agentId);
    return rows.map((row) => ({
      name: row.name,
      agentId: row.agentId,
      tool: row.tool,
      inject: { kind: row.injectKind === 'header' ? 'header' : 'env', name: row.injectName },
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }));
  }

  async delete(name: string, agentId: string, tool: string): Promise<boolean> {
    try {
      return await this.#store.credentials.delete(name, agentId, tool);
    } finally {
      this.#generation += 1;
    }
  }

  /** Deletes every credential of an agent (on retirement); pass `tx` to join it. */
  async removeAgent(agentId: string, tx: Repos = this.#store): Promise<number> {
    const rows = await tx.credentials.forAgent(agentId);
    for (const row of rows) await tx.credentials.delete(row.name, row.agentId, row.tool);
    this.#generation += 1;
    return rows.length;
  }

  #open(row: CredentialRow): string {
    const body = Buffer.from(row.ciphertext);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(row.nonce), {
        authTagLength: 16,
      });
      decipher.setAAD(aad(row.name, row.agentId, row.tool, row.injectKind, row.injectName));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new OacpError<CredentialErrorCode>(
        'CREDENTIAL_DECRYPT_FAILED',
        `credential ${row.name} (agent ${row.agentId}, tool ${row.tool}) failed authentication: altered, moved to another scope, or sealed under another master key`,
      );
    }
  }
}

function aad(name: string, agentId: string, tool: string, kind: string, target: string): Buffer {
  return Buffer.from(
    canonicalize({
      purpose: 'oacp/credentials/v1',
      name,
      agent: agentId,
      tool,
      inject: { kind, name: target },
    }),
    'utf8',
  );
}

/** An exact tool name beats any prefix; a longer prefix beats a shorter one. */
function specificity(pattern: string): number {
  return pattern.endsWith('*') ? pattern.length - 1 : Number.MAX_SAFE_INTEGER;
}
