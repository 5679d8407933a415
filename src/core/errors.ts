/**
 * One error type for the whole runtime. Each domain declares its own code union
 * (`LogErrorCode`, `IdentityErrorCode`, ...) so a caller can switch on `code`
 * without parsing messages. Messages say what could not be done and why; they
 * never carry secret material (name keys by id or fingerprint instead).
 */
export class OacpError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OacpError';
    this.code = code;
  }
}

export function isOacpError(value: unknown): value is OacpError {
  return value instanceof OacpError;
}

/** The code of an OacpError; undefined for anything else thrown. */
export function oacpCodeOf(value: unknown): string | undefined {
  return value instanceof OacpError ? value.code : undefined;
}

/** A one-line description of any thrown value, safe to print to a user (no stack). */
export function describeError(value: unknown): string {
  if (value instanceof OacpError) return `${value.code}: ${value.message}`;
  if (value instanceof Error) return value.message;
  return String(value);
}
