import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../log/atomic-file.js';
import { clusterError } from './errors.js';

/** A peer that showed a fork: the evidence kept, and why it is no longer trusted. */
export interface ForkRecord {
  readonly peer: string;
  readonly origin?: string | undefined;
  readonly at: string;
  readonly reason: string;
  /** The checkpoint the peer served when the fork was seen. */
  readonly checkpoint?: string | undefined;
}

const ForksSchema = z.object({
  version: z.literal(1),
  forks: z.array(
    z.object({
      peer: z.string(),
      origin: z.string().optional(),
      at: z.string(),
      reason: z.string(),
      checkpoint: z.string().optional(),
    }),
  ),
});

/**
 * The peers this node stopped trusting, kept durably (`<home>/log-gossip/forks.json`) so a
 * restart does not trust them again. Only an operator clears it, by removing the file once the
 * fork is explained (docs/log.md).
 */
export class ForkRecords {
  private constructor(
    private readonly file: string,
    private readonly records: ForkRecord[],
  ) {}

  static async open(file: string): Promise<ForkRecords> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new ForkRecords(file, []);
      throw clusterError('CLUSTER_CONFIG_INVALID', `cannot read the fork records ${file}`, error);
    }
    const parsed = ForksSchema.safeParse(safeJson(text));
    // Trusting every peer again because the record is damaged would undo a security decision.
    if (!parsed.success)
      throw clusterError(
        'CLUSTER_CONFIG_INVALID',
        `the fork records ${file} are damaged; restore or remove them`,
      );
    return new ForkRecords(file, parsed.data.forks);
  }

  all(): readonly ForkRecord[] {
    return [...this.records];
  }

  /** The fork a peer (by URL or log origin) showed, if it did. */
  of(peer: string, origin?: string): ForkRecord | undefined {
    return this.records.find((r) => r.peer === peer || (origin !== undefined && r.origin === origin));
  }

  async add(record: ForkRecord): Promise<void> {
    this.records.push(record);
    await writeFileAtomic(
      this.file,
      `${JSON.stringify({ version: 1, forks: this.records }, null, 2)}\n`,
      true,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
