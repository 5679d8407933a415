import type { CallerAgent } from './caller.js';

/** The attributes the global policies see of an agent running in the standard tier. */
export function principalAttributes(program: CallerAgent, coSign: boolean): Record<string, unknown> {
  return {
    ...program.attributes,
    name: program.name,
    tier: 'standard',
    attestation_level: coSign ? 2 : 1,
  };
}
