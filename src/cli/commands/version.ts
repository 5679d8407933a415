import { readFileSync } from 'node:fs';
import { z } from 'zod';

const PackageJson = z.object({ version: z.string().min(1) });

/**
 * OACP's own version, from its package.json. Read only when asked (`oacp --version`):
 * every other command starts without it. The compiled module and the CLI bundle both
 * sit three directories below the package root (scripts/bundle-cli.mjs).
 */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return PackageJson.parse(JSON.parse(text)).version;
}
