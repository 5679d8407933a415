import { z } from 'zod';
import type { WasmErrorCode } from './errors.js';
import type { Grants } from './prelude.js';

/**
 * Messages between the gateway's thread and a guest thread. Guest values
 * cross only as JSON text, exactly as they cross the guest boundary; the
 * checks on that text (json-boundary.ts) run on the gateway's side, where
 * the bindings are. Messages from a guest thread are parsed with zod before
 * anything acts on them.
 */
export type ToGuestThread =
  | {
      readonly type: 'create';
      readonly guest: number;
      readonly memoryBytes: number;
      readonly stackBytes: number;
      readonly grants: Grants;
    }
  | {
      readonly type: 'run';
      readonly guest: number;
      readonly code: string;
      readonly inputText: string;
      readonly cpuLimitMs: number;
      /** Log traffic past this stops the guest inside its thread (a backstop; the exact quota check is the gateway's). */
      readonly logBudgetBytes: number;
      /** A result longer than this is not sent at all, only its size (the gateway refuses it by that). */
      readonly maxResultBytes: number;
    }
  | {
      readonly type: 'answer';
      readonly guest: number;
      readonly call: number;
      readonly value?: string;
      readonly error?: string;
    }
  | { readonly type: 'kill'; readonly guest: number; readonly code: WasmErrorCode; readonly message: string }
  | { readonly type: 'stop'; readonly guest: number };

const guest = z.number().int().positive();
const Stats = z.strictObject({
  modules: z.number(),
  retiredModules: z.number(),
  sandboxes: z.number(),
  reservedBytes: z.number(),
  linearMemoryBytes: z.number(),
});

export const FromGuestThread = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), tid: z.number().int().positive().optional() }),
  z.strictObject({ type: z.literal('created'), guest, stats: Stats }),
  z.strictObject({ type: z.literal('refused'), guest, code: z.string(), message: z.string() }),
  z.strictObject({
    type: z.literal('call'),
    guest,
    call: z.number().int().nonnegative(),
    kind: z.string(),
    payload: z.string(),
  }),
  z.strictObject({ type: z.literal('log'), guest, payload: z.string() }),
  z.strictObject({
    type: z.literal('done'),
    guest,
    cpuMs: z.number(),
    memoryBytes: z.number(),
    stats: Stats,
    text: z.string().optional(),
    oversizedResultBytes: z.number().int().nonnegative().optional(),
    failure: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  }),
  z.strictObject({ type: z.literal('stopped'), guest, stats: Stats }),
  /** What a QuickJS module said about itself (its print output, a retirement and why); see EngineReport. */
  z.strictObject({ type: z.literal('engine'), message: z.string().max(4096) }),
]);
export type FromGuestThread = z.infer<typeof FromGuestThread>;
export type RunDone = Extract<FromGuestThread, { type: 'done' }>;
