import { inspect } from 'node:util';
import { redactSecrets } from '../../core/secret-values.js';

export interface Injection {
  readonly credential: string;
  readonly kind: 'env' | 'header';
  readonly name: string;
  readonly value: string;
}

/**
 * The secrets one tool call gets, for the gateway to put into the tool's
 * environment or request headers. It never serializes its values: JSON,
 * console.log and util.inspect show names only, so passing it to a logger or
 * into a receipt by mistake leaks nothing. Values come out only through
 * env() and headers(), at the point of injection.
 */
export class InjectedSecrets {
  readonly #injections: readonly Injection[];

  constructor(injections: readonly Injection[]) {
    this.#injections = injections;
  }

  /** Credential names, for logs and receipts. */
  get names(): readonly string[] {
    return this.#injections.map((i) => i.credential);
  }

  get size(): number {
    return this.#injections.length;
  }

  env(): Record<string, string> {
    return Object.fromEntries(this.#injections.filter((i) => i.kind === 'env').map((i) => [i.name, i.value]));
  }

  headers(): Record<string, string> {
    return Object.fromEntries(
      this.#injections.filter((i) => i.kind === 'header').map((i) => [i.name, i.value]),
    );
  }

  /** Every value and, for `Scheme token` header values, the bare token too. */
  values(): string[] {
    return this.#injections.flatMap((i) => {
      const scheme = /^[A-Za-z][A-Za-z0-9-]* (.+)$/.exec(i.value);
      return scheme?.[1] === undefined ? [i.value] : [i.value, scheme[1]];
    });
  }

  /** Tool output or an error message with these secrets removed. */
  redact(text: string): string {
    return redactSecrets(text, this.values());
  }

  toJSON(): { names: readonly string[]; env: string[]; headers: string[] } {
    return {
      names: this.names,
      env: this.#injections.filter((i) => i.kind === 'env').map((i) => i.name),
      headers: this.#injections.filter((i) => i.kind === 'header').map((i) => i.name),
    };
  }

  [inspect.custom](): string {
    return `InjectedSecrets(${this.names.join(', ')})`;
  }

  toString(): string {
    return this[inspect.custom]();
  }
}
