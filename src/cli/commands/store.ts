import type { Command } from 'commander';
import { FUTURE_MARGIN_MS, futureBuckets, restampFutureBuckets } from '../../airlock/quota/future-buckets.js';
import { isOacpError } from '../../core/errors.js';
import { defaultStorePath, openStore } from '../../store/open-store.js';
import { redactUrl } from '../../store/redact.js';
import { storeFileExists } from '../../store/store-file.js';
import {
  acceptStore,
  checkStoreIdentity,
  openRecordedStore,
  recordedStoreId,
} from '../../store/store-identity.js';
import type { Store } from '../../store/types.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';
import { collect } from './shared.js';

/** What `oacp doctor` and `oacp store status` say about the home's store. */
export interface StoreStatus {
  readonly ok: boolean;
  readonly location: string;
  readonly detail: string;
}

/**
 * `oacp store status|accept|reset-future`: whether the gateway store (default
 * <home>/gateway.db) is the one this home recorded, and the operator's word
 * that a store found in its place (deleted and made again, replaced by an
 * empty one) is to be used, its quota windows starting full, and that a
 * clock which stamped buckets far ahead was wrong (docs/quotas.md).
 */
export const registerStore: CommandRegistrar = (program, context) => {
  const store = program
    .command('store')
    .description(
      'the gateway store this home uses: is it the one recorded (status), use the one there now (accept), quota buckets a clock far ahead stamped (reset-future)',
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
  store
    .command('reset-future')
    .description(
      'quota buckets last changed by a clock far ahead: list them, and with --yes restamp them so they refill from now',
    )
    .option('--store <location>', 'SQLite file or postgres:// URL (default: <home>/gateway.db)')
    .option('--bucket <key>', 'only this bucket (repeatable; default: every one ahead)', collect, [])
    .option('--yes', 'restamp them; without it they are listed and nothing changes')
    .action(async (options: { store?: string; bucket: string[]; yes?: boolean }, command: Command) => {
      const home = context.home(command);
      const opened = await openForHome(home, options.store ?? defaultStorePath(home));
      try {
        const now = Date.now();
        const ahead = await futureBuckets(opened, now);
        const unknown = options.bucket.filter((key) => !ahead.some((bucket) => bucket.key === key));
        if (unknown.length > 0)
          throw new CliExit(
            `--bucket: ${unknown.map((key) => JSON.stringify(key)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not stamped more than a minute ahead of this clock (without --bucket, the command lists those that are)`,
            2,
          );
        const chosen =
          options.bucket.length === 0 ? ahead : ahead.filter(({ key }) => options.bucket.includes(key));
        if (chosen.length === 0) {
          context.output.out(
            `${opened.location}: no quota bucket was last changed by a clock more than ${FUTURE_MARGIN_MS / 60_000} min ahead of this one`,
          );
          return;
        }
        for (const bucket of chosen)
          context.output.out(
            `${bucket.key}: stamped ${aheadText(bucket.aheadMs)} ahead of this clock, ${Math.floor(bucket.tokens)} of ${bucket.capacity} tokens`,
          );
        if (options.yes !== true)
          throw new CliExit(
            `--yes: not given, nothing changed; with it, the ${plural(chosen.length, 'bucket')} above refill from now at their rate, their tokens kept`,
            2,
          );
        const operator = `uid ${process.getuid?.() ?? 'unknown'}`;
        const done = await restampFutureBuckets(
          opened,
          chosen.map(({ key }) => key),
          now,
          operator,
        );
        context.output.out(
          `restamped ${plural(done.length, 'quota bucket')} at ${opened.location}: they refill from now (security event quota.restamped, by ${operator})`,
        );
      } finally {
        await opened.close();
      }
    });
};

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function aheadText(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/** A command that changes the store goes through the home's record of it, as a gateway's start does. */
async function openForHome(home: string, location: string): Promise<Store> {
  if (!/^postgres(ql)?:\/\//i.test(location) && !present(location.replace(/^sqlite:/, ''), home))
    throw new CliExit(`--store: no gateway store at ${location}`, 2);
  try {
    return await openRecordedStore(home, location, { record: false });
  } catch (error) {
    if (isOacpError(error) && error.code === 'STORE_REPLACED') throw error;
    throw new CliExit(
      `--store: cannot open ${redactUrl(location)}: ${error instanceof Error ? error.message : String(error)}`,
      2,
    );
  }
}

/** Opens nothing that is not there: a missing SQLite file is reported from the record alone. */
export async function homeStoreStatus(
  home: string,
  location = defaultStorePath(home),
  now: () => number = Date.now,
): Promise<StoreStatus> {
  const sqlite = !/^postgres(ql)?:\/\//i.test(location);
  if (sqlite && !present(location.replace(/^sqlite:/, ''), home)) {
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
  const ahead = await futureBuckets(store, at);
  const latest = ahead[0];
  if (latest === undefined) return undefined;
  const minutes = Math.ceil(latest.aheadMs / 60_000);
  return `; ${plural(ahead.length, 'quota bucket')} last changed by a clock up to ${minutes} min ahead of this one, refilling nothing until then (if that clock was wrong: \`oacp store reset-future\`)`;
}

/** An SQLite file there; one this uid may not look at is refused by name (`--store: ...`, exit 2). */
function present(path: string, home: string): boolean {
  try {
    return storeFileExists(path, home);
  } catch (error) {
    throw new CliExit(`--store: ${error instanceof Error ? error.message : String(error)}`, 2);
  }
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
