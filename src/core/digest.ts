import { hash } from 'node:crypto';

// The one-shot `crypto.hash` (no Hash object): about half the CPU of createHash for the
// receipt-sized inputs every call digests (statements, envelopes, arguments).

export function sha256(data: Uint8Array | string): Buffer {
  return hash('sha256', data, 'buffer');
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}
