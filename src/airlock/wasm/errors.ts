export type WasmErrorCode =
  | 'WASM_UNAVAILABLE'
  | 'WASM_CPU_LIMIT'
  | 'WASM_MEMORY_LIMIT'
  | 'WASM_STACK_LIMIT'
  | 'WASM_OUTPUT_LIMIT'
  | 'WASM_TIMEOUT'
  | 'WASM_STALLED'
  | 'WASM_GUEST_ERROR'
  | 'WASM_BAD_INPUT'
  | 'WASM_BAD_VALUE'
  | 'WASM_BUSY'
  | 'WASM_STOPPED'
  | 'WASM_MODULE_POISONED';

/** The codes that are the sandbox enforcing a limit, as opposed to the guest's own error or a fault. */
const LIMIT_CODES: ReadonlySet<string> = new Set<WasmErrorCode>([
  'WASM_CPU_LIMIT',
  'WASM_MEMORY_LIMIT',
  'WASM_STACK_LIMIT',
  'WASM_OUTPUT_LIMIT',
  'WASM_TIMEOUT',
  'WASM_STALLED',
]);

export function isWasmLimit(code: string): boolean {
  return LIMIT_CODES.has(code);
}
