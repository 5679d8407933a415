import { tmpfsInodes } from '../../airlock/native/tmpfs-inodes.js';
import { QuotasSchema } from '../../capability/manifest.js';
import type { PermissionHint } from './permission-hints.js';

const FULL = /ENOSPC|no space left on device/i;

/**
 * Whether a server's last lines, or a failed call's answer, show a write
 * refused for want of space: in a sandbox that is most often its /tmp, which
 * is also its HOME, a tmpfs of quotas.tmp_mb and of one file per 4 KiB of it
 * (a cache unpacked there fills it, by size or by files). Names the flag first
 * (`--quota-tmp`, `quota_tmp` in oacp.yaml), then the manifest field. A guess
 * from text, phrased as "it may need", never applied by itself.
 */
export function tmpFullHint(lines: readonly string[]): PermissionHint | undefined {
  if (!lines.some((line) => FULL.test(line))) return undefined;
  const mb = QuotasSchema.parse({}).tmp_mb;
  return {
    permission: `more room in its /tmp, which is also its HOME (a tmpfs of quotas.tmp_mb: ${mb} MiB and ${tmpfsInodes(mb)} files by default, one file per 4 KiB)`,
    flag: '--quota-tmp <size>, e.g. --quota-tmp 256mb',
    manifest: 'quotas.tmp_mb: <MiB>',
  };
}
