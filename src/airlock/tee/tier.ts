import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from '../native/errors.js';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { detectTee, type TeeEvidence, type TeeProbe } from './detect.js';

/**
 * The tee tier. OACP does not yet launch workloads inside an enclave or
 * bind an attestation report into receipts, so this tier reports what
 * hardware it found and refuses to start: a run that asked for a TEE must
 * never quietly get less.
 */
export class TeeTier implements ProcessTier {
  readonly name = 'tee' as const;

  constructor(private readonly probe: TeeProbe = {}) {}

  evidence(): TeeEvidence[] {
    return detectTee(this.probe);
  }

  async availability(): Promise<Availability> {
    const found = this.evidence();
    if (found.length === 0) {
      return {
        available: false,
        reason:
          'no TEE on this host: /dev/sgx_enclave, /dev/sev-guest and /dev/tdx_guest are absent and the CPU has no sgx flag',
        remedy: 'run OACP inside an AMD SEV-SNP or Intel TDX confidential VM, or on an SGX host',
      };
    }
    const list = found.map((entry) => `${entry.kind} (${entry.evidence})`).join(', ');
    return {
      available: false,
      reason: `TEE hardware found: ${list}; launching workloads in it with attestation is not implemented yet`,
      remedy: 'use the gvisor or hardened tier until enclave launch is supported',
    };
  }

  async start(_spec: ProcessSpec): Promise<ProcessSandbox> {
    const availability = await this.availability();
    const why = availability.available ? availability.detail : availability.reason;
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `tee tier cannot start a sandbox: ${why}`,
    );
  }
}
