import { REDACTED } from './redact.js';

/**
 * The texts one secret value leaks through, the value first: itself,
 * URL-encoded, JSON-escaped, base64 and base64url, and the base64 characters
 * it fills alone inside a longer base64 text (`Basic base64(user:token)`
 * quoted back in a provider's error). Empty for the empty value.
 */
export function secretForms(value: string): string[] {
  if (value === '') return [];
  const bytes = Buffer.from(value, 'utf8');
  const forms = [
    value,
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
  ];
  for (const core of embeddedBase64(bytes)) forms.push(core, core.replaceAll('+', '-').replaceAll('/', '_'));
  return forms;
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

/** Length of the prefix a form is looked up by (every form of a value SecretValues keeps is at least this long). */
const PREFIX = 8;

/**
 * A number for the PREFIX characters of `text` from `at`: equal prefixes give equal numbers, so
 * a form is always found under its own; different prefixes may share one, and the candidates are
 * then told apart by startsWith. Computed without making the prefix a string: the scan made one
 * string per character of every text it masked (two reasons of every receipt).
 */
function prefixKey(text: string, at: number): number {
  let key = 0;
  for (let i = at; i < at + PREFIX; i += 1) key = (Math.imul(key, 31) + text.charCodeAt(i)) | 0;
  return key;
}

/**
 * Masks a fixed list of forms, longest first (so one form that contains
 * another is not left half-visible), each everywhere it occurs. Built once per
 * change of the list: a text is first scanned for the forms it holds (a map
 * from each form's first PREFIX characters), and only those are replaced, so
 * the cost follows the text's length, not the number of forms. The result is
 * the same as replacing every form in turn: a form absent from the text can
 * only appear once an earlier replacement puts a mark in, so a form that
 * could overlap a mark (one with `[` or `]`, or a piece of the mark) or is
 * shorter than PREFIX is always tried.
 */
export class FormMasker {
  /** Distinct forms, longest first (stable: equal lengths keep their order). */
  readonly #forms: string[];
  readonly #byPrefix = new Map<number, number[]>();
  readonly #alwaysTried: number[] = [];

  constructor(forms: Iterable<string>) {
    this.#forms = [...new Set(forms)].filter((form) => form !== '').sort((a, b) => b.length - a.length);
    this.#forms.forEach((form, rank) => {
      if (form.length < PREFIX || form.includes('[') || form.includes(']') || REDACTED.includes(form)) {
        this.#alwaysTried.push(rank);
        return;
      }
      const prefix = prefixKey(form, 0);
      const ranks = this.#byPrefix.get(prefix);
      if (ranks === undefined) this.#byPrefix.set(prefix, [rank]);
      else ranks.push(rank);
    });
  }

  mask(text: string): string {
    let found: Set<number> | undefined =
      this.#alwaysTried.length === 0 ? undefined : new Set<number>(this.#alwaysTried);
    for (let at = 0; at + PREFIX <= text.length; at += 1) {
      const ranks = this.#byPrefix.get(prefixKey(text, at));
      if (ranks === undefined) continue;
      for (const rank of ranks) {
        if (!text.startsWith(this.#forms[rank] as string, at)) continue;
        found ??= new Set<number>();
        found.add(rank);
      }
    }
    if (found === undefined || found.size === 0) return text;
    let out = text;
    for (const rank of [...found].sort((a, b) => a - b))
      out = out.split(this.#forms[rank] as string).join(REDACTED);
    return out;
  }
}
