import { REDACTED } from './redact.js';
import { FormMasker, secretForms } from './secret-forms.js';

export const SECRET_MARK = REDACTED;

/**
 * `text` with every occurrence of each secret replaced by [REDACTED], also in
 * the encodings a secret commonly leaks through (secretForms): URL-encoded,
 * JSON-escaped, base64 and base64url, also inside a longer base64 text
 * (`Basic base64(user:token)` quoted back in a provider's error). Longer
 * secrets are replaced first so one secret that contains another is not left
 * half-visible. For the logger and receipts.
 */
export function redactSecrets(text: string, secretValues: Iterable<string>): string {
  const forms: string[] = [];
  for (const value of secretValues) forms.push(...secretForms(value));
  return forms.length === 0 ? text : new FormMasker(forms).mask(text);
}

/** Most values the bounded tier of one SecretValues keeps; past it the oldest is forgotten (a vault holds far fewer). */
export const SECRET_VALUES_MAX = 4096;

/**
 * The live secret values one gateway (or node) holds: provider keys, tool
 * credentials and agent keys, registered as they are decrypted (add), and the
 * node's own keys (master key, log and derived keys, a bridge's desk token),
 * registered pinned (pin). The pattern redactor (redact.ts) cannot know a
 * value shaped like no key; this masks each by value, in its common encodings
 * (redactSecrets), wherever it holds: the logger's lines, the answers' error
 * messages. Two tiers: pinned values are never forgotten, so no number of
 * vault values or agents can push the node's own keys out; the bounded tier
 * keeps at most SECRET_VALUES_MAX values and forgets the oldest past it. One
 * per instance, never module state, so two gateways in one process mask each
 * other's nothing. Masking costs the text's length, not the number of values
 * (FormMasker, rebuilt on the first mask after a change).
 */
export class SecretValues {
  readonly #pinned = new Set<string>();
  readonly #bounded = new Set<string>();
  #masker: FormMasker | undefined;

  /** Registers values in the bounded tier (empty ones and values shorter than 8 characters are ignored: too common to mask). */
  add(values: Iterable<string>): void {
    for (const value of values) {
      if (value.length < 8 || this.#pinned.has(value) || this.#bounded.has(value)) continue;
      if (this.#bounded.size >= SECRET_VALUES_MAX) {
        const oldest = this.#bounded.values().next().value;
        if (oldest !== undefined) this.#bounded.delete(oldest);
      }
      this.#bounded.add(value);
      this.#masker = undefined;
    }
  }

  /**
   * Registers values that are never forgotten: the node's own keys, a handful
   * per process. Not for values that grow with use (vault entries, agents): add.
   * Same length rule as add.
   */
  pin(values: Iterable<string>): void {
    for (const value of values) {
      if (value.length < 8 || this.#pinned.has(value)) continue;
      this.#bounded.delete(value);
      this.#pinned.add(value);
      this.#masker = undefined;
    }
  }

  get size(): number {
    return this.#pinned.size + this.#bounded.size;
  }

  /** `text` with every registered value masked. */
  mask(text: string): string {
    if (this.size === 0) return text;
    this.#masker ??= new FormMasker([...this.#pinned, ...this.#bounded].flatMap(secretForms));
    return this.#masker.mask(text);
  }

  toJSON(): { size: number } {
    return { size: this.size };
  }
}
