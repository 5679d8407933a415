/**
 * The slice of the WebAssembly JS API this tier uses, typed here because the
 * compiler's lib (ES2023 + node) declares the namespace's types only partly.
 */
export interface LinearMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WebAssembly.Module>;
  Memory: new (descriptor: { initial: number; maximum: number }) => LinearMemory;
}

export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
