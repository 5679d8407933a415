import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OciConfig } from './oci-config.js';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return true;
  }
}

/**
 * Writes `config.json` and an empty `rootfs` holding only the mount points
 * (a directory or an empty file, matching each bind source) and the
 * merged-/usr symlinks. Nothing from the host is copied.
 */
export function writeBundle(
  bundle: string,
  config: OciConfig,
  symlinks: readonly { readonly path: string; readonly target: string }[],
): void {
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  for (const link of symlinks) symlinkSync(link.target, join(rootfs, link.path));
  for (const mount of config.mounts) {
    const point = join(rootfs, mount.destination);
    if (mount.type !== 'bind' || isDirectory(mount.source)) {
      mkdirSync(point, { recursive: true });
    } else {
      mkdirSync(dirname(point), { recursive: true });
      writeFileSync(point, '', { flag: 'a' });
    }
  }
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
}
