import type { ProviderConfig } from './config.js';
import type { ProviderSecrets } from './dispatch.js';

/** How long a provider's key is kept in memory after it was read from the vault. */
export const PROVIDER_KEY_TTL_MS = 60_000;

interface Kept {
  readonly secrets: Promise<ProviderSecrets>;
  /** The vault's change count when the read began: a change since makes the entry stale. */
  readonly generation: number;
  readonly until: number;
}

/**
 * Each provider's key, read from the credentials vault (decrypted) once and kept in memory for a
 * bounded time, instead of a store read and an AES-GCM open on every model call. A change to the
 * vault made through this process (a rotation, a delete) drops every kept key at once: the entry
 * remembers the vault's change count from before its read, so a read racing a rotation is not
 * kept past it. A rotation made by another gateway on a shared store is seen within `ttlMs`.
 * A key the provider refuses (401, 403) is dropped at once (ProviderSecrets.rejected), so a key
 * rotated on another gateway is used from the next call, not after up to `ttlMs` of refusals.
 * The credentials vault keeps no access log (docs/context-vault.md: the context vault's does),
 * so keeping a key promises nothing less. Keys are never logged: InjectedSecrets prints names only.
 */
export class ProviderKeys {
  readonly #kept = new Map<string, Kept>();

  constructor(
    private readonly parts: {
      readonly read: (provider: ProviderConfig) => Promise<ProviderSecrets>;
      readonly generation: () => number;
      readonly ttlMs?: number;
      readonly now?: () => number;
    },
  ) {}

  secretsFor(provider: ProviderConfig): Promise<ProviderSecrets> {
    const now = (this.parts.now ?? Date.now)();
    const generation = this.parts.generation();
    const kept = this.#kept.get(provider.name);
    if (kept !== undefined && kept.generation === generation && now < kept.until) return kept.secrets;
    // Drops this entry only: a newer read (a rotation seen meanwhile) is not thrown away.
    const drop = () => {
      if (this.#kept.get(provider.name) === entry) this.#kept.delete(provider.name);
    };
    const secrets = this.parts.read(provider).then(
      (read): ProviderSecrets => ({
        headers: () => read.headers(),
        redact: (text) => read.redact(text),
        rejected: drop,
      }),
    );
    const entry: Kept = { secrets, generation, until: now + (this.parts.ttlMs ?? PROVIDER_KEY_TTL_MS) };
    this.#kept.set(provider.name, entry);
    // A failed read is not kept: the next call asks the vault again.
    secrets.catch(drop);
    return secrets;
  }
}
