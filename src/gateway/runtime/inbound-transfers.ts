import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MemberSchema } from '../../cluster/member.js';
import { sha256Hex } from '../../core/digest.js';
import { writeFileAtomic } from '../../log/atomic-file.js';
import { MigrationEnvelopeSchema } from './migration-envelope.js';

const KeptSchema = z.strictObject({
  envelope: MigrationEnvelopeSchema,
  /** The source's member record when the envelope was accepted: its transfer key signed it. */
  source: MemberSchema,
  /** Until when the state may still be restored (ms since the epoch). */
  until: z.number().int().nonnegative(),
});
export type KeptTransfer = z.infer<typeof KeptSchema>;

/**
 * Migration envelopes this node accepted, kept as they came (sealed to its
 * transfer key, never decrypted at rest) in the node's home, one file per
 * agent, fsynced before the source is told yes: a target killed between
 * accepting the state and starting the agent finds it again after a restart.
 */
export class InboundTransfers {
  constructor(private readonly dir: string) {}

  async keep(agent: string, kept: KeptTransfer): Promise<void> {
    await writeFileAtomic(this.path(agent), JSON.stringify(kept), true);
  }

  /** The kept envelope for the agent, removed from the home; undefined when none (or unreadable). */
  take(agent: string): KeptTransfer | undefined {
    const path = this.path(agent);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    rmSync(path, { force: true });
    try {
      return KeptSchema.parse(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  /**
   * Every kept envelope, left in the home (start-up reads them all); files that are not one
   * (torn, edited) are removed and named, so they are neither kept forever nor read as state.
   */
  list(): { kept: KeptTransfer[]; unreadable: string[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { kept: [], unreadable: [] };
    }
    const kept: KeptTransfer[] = [];
    const unreadable: string[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const path = join(this.dir, name);
      try {
        const entry = KeptSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
        // Named for its agent, or it is not where take() and drop() would find it.
        if (this.path(entry.envelope.agent) !== path) throw new Error('misplaced');
        kept.push(entry);
      } catch {
        rmSync(path, { force: true });
        unreadable.push(name);
      }
    }
    return { kept, unreadable };
  }

  drop(agent: string): void {
    rmSync(this.path(agent), { force: true });
  }

  private path(agent: string): string {
    return join(this.dir, `${sha256Hex(agent)}.json`);
  }
}
