import { existsSync, readFileSync } from 'node:fs';

/** A trusted execution environment this host offers, with what showed it. */
export interface TeeEvidence {
  readonly kind: 'sgx' | 'sev-snp' | 'tdx';
  readonly evidence: string;
}

/** Where to look; parameters so tests can describe other hosts. */
export interface TeeProbe {
  readonly exists?: (path: string) => boolean;
  readonly cpuinfo?: () => string;
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Confidential-VM guests (SEV-SNP, TDX) expose a guest device for attestation
 * reports; SGX exposes the enclave device and an `sgx` CPU flag.
 */
export function detectTee(probe: TeeProbe = {}): TeeEvidence[] {
  const exists = probe.exists ?? existsSync;
  const found: TeeEvidence[] = [];
  if (exists('/dev/sev-guest')) found.push({ kind: 'sev-snp', evidence: '/dev/sev-guest' });
  if (exists('/dev/tdx_guest')) found.push({ kind: 'tdx', evidence: '/dev/tdx_guest' });
  if (exists('/dev/sgx_enclave')) found.push({ kind: 'sgx', evidence: '/dev/sgx_enclave' });
  else if (/^flags\s*:.*\bsgx\b/m.test((probe.cpuinfo ?? readCpuinfo)())) {
    found.push({ kind: 'sgx', evidence: 'cpu flag sgx (no /dev/sgx_enclave: driver not loaded)' });
  }
  return found;
}
