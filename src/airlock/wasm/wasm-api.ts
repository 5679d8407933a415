/**
 * The slice of the WebAssembly JS API this tier uses, typed here because the
 * compiler's lib (ES2023 + node) declares the namespace's types only partly.
 */
export interface LinearMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled WebAssembly module, opaque here: it is only handed back to the QuickJS loader. */
export interface CompiledWasm {
  readonly __compiledWasm?: never;
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<CompiledWasm>;
  Memory: new (descriptor: { initial: number; maximum: number }) => LinearMemory;
}

export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
