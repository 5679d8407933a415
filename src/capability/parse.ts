import { OacpError } from '../core/errors.js';
import type { CapabilityErrorCode } from './errors.js';
import { describeIssues } from './issues.js';
import { type Manifest, ManifestSchema } from './manifest.js';

/**
 * Validates a manifest document. An invalid manifest is an error naming every
 * bad field; nothing is ever replaced by a default, because a manifest that
 * silently grants less (or more) than written is worse than none.
 */
export function parseManifest(value: unknown, source = 'manifest'): Manifest {
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new OacpError<CapabilityErrorCode>(
      'CAPABILITY_MANIFEST_INVALID',
      `invalid capability manifest ${source}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}
