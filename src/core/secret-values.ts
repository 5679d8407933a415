import { REDACTED } from './redact.js';

export const SECRET_MARK = REDACTED;

/**
 * `text` with every occurrence of each secret replaced by [REDACTED], also in
 * the encodings a secret commonly leaks through: URL-encoded, JSON-escaped,
 * base64 and base64url, also inside a longer base64 text (`Basic
 * base64(user:token)` quoted back in a provider's error). Longer secrets are
 * replaced first so one secret that contains another is not left
 * half-visible. For the logger and receipts.
 */
export function redactSecrets(text: string, secretValues: Iterable<string>): string {
  const forms = new Set<string>();
  for (const value of secretValues) {
    if (value === '') continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(Buffer.from(value, 'utf8').toString('base64').replace(/=+$/, ''));
    forms.add(Buffer.from(value, 'utf8').toString('base64url'));
    for (const core of embeddedBase64(Buffer.from(value, 'utf8'))) {
      forms.add(core);
      forms.add(core.replaceAll('+', '-').replaceAll('/', '_'));
    }
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (form !== '') out = out.split(form).join(SECRET_MARK);
  }
  return out;
}

/**
 * The base64 characters that encode `bytes` alone, whatever bytes come before
 * and after them in a longer text: for each of the three alignments the
 * secret can start at, the characters of groups it fills completely. The
 * characters it shares with its neighbours are left out (they differ from one
 * text to another). Empty for a secret too short to fill a group.
 */
function embeddedBase64(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (const lead of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(lead), bytes]);
    const whole = Math.floor(padded.length / 3) * 4;
    // Characters 0..(lead) of the first group mix the lead bytes in: skip them (none when lead is 0).
    const skip = lead === 0 ? 0 : lead + 1;
    const core = padded.toString('base64').slice(skip, whole);
    if (core.length >= 8) cores.push(core);
  }
  return cores;
}

/** Most values one SecretValues keeps; past it the oldest is forgotten (a vault holds far fewer). */
export const SECRET_VALUES_MAX = 4096;

/**
 * The live secret values one gateway (or node) has handed out: provider keys
 * and tool credentials, registered by the credential vault as it decrypts them.
 * The pattern redactor (redact.ts) cannot know a value shaped like no key;
 * this masks each by value, in its common encodings (redactSecrets), wherever
 * it holds: the logger's lines, the answers' error messages. One per instance,
 * never module state, so two gateways in one process mask each other's nothing.
 */
export class SecretValues {
  readonly #values = new Set<string>();

  /** Registers values (empty ones and values shorter than 8 characters are ignored: too common to mask). */
  add(values: Iterable<string>): void {
    for (const value of values) {
      if (value.length < 8 || this.#values.has(value)) continue;
      if (this.#values.size >= SECRET_VALUES_MAX) {
        const oldest = this.#values.values().next().value;
        if (oldest !== undefined) this.#values.delete(oldest);
      }
      this.#values.add(value);
    }
  }

  get size(): number {
    return this.#values.size;
  }

  /** `text` with every registered value masked. */
  mask(text: string): string {
    return this.#values.size === 0 ? text : redactSecrets(text, this.#values);
  }

  toJSON(): { size: number } {
    return { size: this.size };
  }
}
