import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { defaultStorePath, openStore } from '../../store/open-store.js';
import { redactUrl } from '../../store/redact.js';
import { acceptStore, checkStoreIdentity, recordedStoreId } from '../../store/store-identity.js';
import type { Store } from '../../store/types.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';

/** What `oacp doctor` and `oacp store status` say about the home's store. */
export interface StoreStatus {
  readonly ok: boolean;
  readonly location: string;
  readonly detail: string;
}

/**
 * `oacp store status|accept`: whether the gateway store (default
 * <home>/gateway.db) is the one this home recorded, and the operator's word
 * that a store found in its place (deleted and made again, replaced by an
 * empty one) is to be used, its quota windows starting full (docs/quotas.md).
 */
export const registerStore: CommandRegistrar = (program, context) => {
  const store = program
    .command('store')
    .description(
      'the gateway store this home uses: is it the one recorded (status), use the one there now (accept)',
    );
  store
    .command('status')
    .description('say whether the store is the one this home recorded; exits 1 when it is not')
    .option('--store <location>', 'SQLite file or postgres:// URL (default: <home>/gateway.db)')
    .action(async (options: { store?: string }, command: Command) => {
      const status = await homeStoreStatus(context.home(command), options.store);
      context.output.out(`${status.location}: ${status.ok ? 'ok' : 'no'}: ${status.detail}`);
      if (!status.ok)
        throw new CliExit(`the store at ${status.location} is not the one this home recorded`, 1);
    });
  store
    .command('accept')
    .description("record the store there now as this home's store (after it was deleted or replaced)")
    .option('--store <location>', 'SQLite file or postgres:// URL (default: <home>/gateway.db)')
    .action(async (options: { store?: string }, command: Command) => {
      const home = context.home(command);
      const opened = await open(options.store ?? defaultStorePath(home));
      try {
        const { previous, id } = await acceptStore(home, opened);
        context.output.out(
          previous === undefined || previous === id
            ? `recorded store ${id.slice(0, 12)} at ${opened.location}`
            : `accepted store ${id.slice(0, 12)} at ${opened.location} in place of ${previous.slice(0, 12)}: its quota windows started full`,
        );
      } finally {
        await opened.close();
      }
    });
};

/** Opens nothing that is not there: a missing SQLite file is reported from the record alone. */
export async function homeStoreStatus(
  home: string,
  location = defaultStorePath(home),
  now: () => number = Date.now,
): Promise<StoreStatus> {
  const sqlite = !/^postgres(ql)?:\/\//i.test(location);
  if (sqlite && !existsSync(location.replace(/^sqlite:/, ''))) {
    const recorded = recordedStoreId(home, { dialect: 'sqlite', location });
    return recorded === undefined
      ? { ok: true, location, detail: 'none yet (the first gateway or quota-limited bridge makes it)' }
      : {
          ok: false,
          location,
          detail: `gone (the home recorded store ${recorded.slice(0, 12)}); a new one would start every quota window full, so starts refuse it until \`oacp store accept\``,
        };
  }
  const store = await open(location);
  try {
    const check = await checkStoreIdentity(home, store, { record: false });
    if (check.state === 'replaced') return { ok: false, location: store.location, detail: check.reason };
    const ahead = await bucketsAhead(store, now());
    return {
      ok: ahead === undefined,
      location: store.location,
      detail:
        (check.state === 'same'
          ? `store ${check.id.slice(0, 12)}, the one recorded`
          : `store ${check.id.slice(0, 12)}, not recorded yet (the next start records it)`) + (ahead ?? ''),
    };
  } finally {
    await store.close();
  }
}

/**
 * Buckets last changed by a clock more than a minute ahead of this one earn
 * nothing until this clock passes that time (docs/quotas.md, "A clock far
 * ahead, then set back"): said, with how far, rather than left to puzzle over.
 */
async function bucketsAhead(store: Store, at: number): Promise<string | undefined> {
  const row = await store.sql.get<{ n: number | string; latest: number | string | null }>(
    'SELECT COUNT(*) AS n, MAX(updated_at) AS latest FROM quota_buckets WHERE updated_at > ?',
    [at + 60_000],
  );
  const count = Number(row?.n ?? 0);
  if (count === 0 || row?.latest === null || row?.latest === undefined) return undefined;
  const minutes = Math.ceil((Number(row.latest) - at) / 60_000);
  return `; ${count} quota bucket${count === 1 ? '' : 's'} last changed by a clock up to ${minutes} min ahead of this one, refilling nothing until then (if that clock was wrong, delete them: docs/quotas.md)`;
}

async function open(location: string): Promise<Store> {
  try {
    return await openStore(location);
  } catch (error) {
    throw new CliExit(
      `--store: cannot open ${redactUrl(location)}: ${error instanceof Error ? error.message : String(error)}`,
      2,
    );
  }
}
