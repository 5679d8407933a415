import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';

const PinSchema = z.strictObject({
  version: z.string().min(1),
  integrity: z.string().min(1),
  /** Tree digest: the store folder holding the installed package. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * Whether the package's install scripts run (`oacp mcp add --allow-scripts`): every later
   * install of it (update, a missing tree fetched again) runs them the same way, in the
   * sandbox, and none turns them on for a package added without. Absent in older pins: off.
   */
  scripts: z.boolean().default(false),
  pinnedAt: z.string(),
});
export type PackagePin = z.infer<typeof PinSchema>;

const PinFileSchema = z.strictObject({ version: z.literal(1), packages: z.record(z.string(), PinSchema) });
type PinFile = z.infer<typeof PinFileSchema>;

/**
 * Which version of each package this home runs: `oacp mcp add` (or a first
 * `oacp mcp run npm:…`) pins it, `oacp mcp update` moves the pin after showing
 * what changed. Without a pin change nothing is fetched again.
 */
export class PackagePins {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  get(name: string): PackagePin | undefined {
    return this.#read().packages[name];
  }

  all(): Readonly<Record<string, PackagePin>> {
    return this.#read().packages;
  }

  set(name: string, pin: Omit<PackagePin, 'pinnedAt'>, now = new Date()): void {
    const file = this.#read();
    file.packages[name] = { ...pin, pinnedAt: now.toISOString() };
    const temporary = `${this.#path}.${process.pid}.tmp`;
    mkdirSync(dirname(this.#path), { recursive: true });
    writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o644 });
    renameSync(temporary, this.#path);
  }

  #read(): PinFile {
    let raw: string;
    try {
      raw = readFileSync(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, packages: {} };
      throw new OacpError<PackageErrorCode>('PACKAGE_STORE', `cannot read package pins ${this.#path}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const parsed = PinFileSchema.safeParse(json);
    if (!parsed.success) {
      throw new OacpError<PackageErrorCode>(
        'PACKAGE_STORE',
        `package pins ${this.#path} are malformed: fix or delete the file (it is rebuilt by oacp mcp add)`,
      );
    }
    return parsed.data;
  }
}
