import { z } from 'zod';
import { TIER_ORDER, type TierName } from '../../airlock/sandbox.js';

/**
 * Field types shared by the oacp.yaml sections, each with the message a user
 * sees after the key path (`sandbox.wasm.memory_limit_mb: expected a positive
 * integer`). Defaults apply only to absent keys; a present but wrong value is
 * always an error.
 */

/** zod's type error for a key: "required" when it is missing, `message` when it has the wrong type. */
export const expected =
  (message: string) =>
  (issue: { readonly input?: unknown }): string =>
    issue.input === undefined ? 'required' : message;

export const positiveInt = () =>
  z
    .number({ error: expected('expected a positive integer') })
    .int({ error: 'expected a positive integer' })
    .positive({ error: 'expected a positive integer' });

export const bool = () => z.boolean({ error: expected('expected true or false') });

export const text = () =>
  z.string({ error: expected('expected a string') }).min(1, { error: 'must not be empty' });

export const paths = () => z.array(text(), { error: 'expected a list of paths' });

export const httpUrl = () =>
  z
    .string({ error: 'expected a URL' })
    .refine((value) => /^https?:\/\/[^\s]+$/i.test(value) && URL.canParse(value), {
      error: 'expected an http:// or https:// URL',
    });

export const TierNameSchema = z.enum(TIER_ORDER as unknown as [TierName, ...TierName[]], {
  error: `expected one of ${TIER_ORDER.join(', ')}`,
});

/** One of `values`, with the allowed values in the message. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });

/**
 * `HOST:PORT` (IPv6 in brackets). Kept as text; the HTTP layer binds it.
 * `:PORT` means loopback.
 */
export const listenAddress = () =>
  z
    .string({ error: 'expected HOST:PORT' })
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, {
      error: 'expected HOST:PORT, such as 127.0.0.1:8080',
    })
    .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65_535, {
      error: 'port must be at most 65535',
    });

/** A duration/size/rate written as a number is read as the default unit, like on the command line. */
export const unitString = (schema: z.ZodType<unknown, string>, message: string) =>
  z
    .union([z.string(), z.number().nonnegative()], { error: message })
    .transform((value) => String(value))
    .refine((value) => schema.safeParse(value).success, { error: message });
