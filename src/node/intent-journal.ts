import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { OacpStatement } from '../attest/oacp-statement.js';
import { type BuildStatementInput, buildStatement } from '../attest/receipt.js';
import { duplicateJsonKey } from '../core/duplicate-key.js';
import { entryExists } from '../core/entry-exists.js';
import { describeError, OacpError } from '../core/errors.js';
import { tryExclusiveLock } from '../core/flock.js';

export type IntentErrorCode = 'NODE_INTENT_UNWRITABLE';

/**
 * The receipt a side effect gets if this process dies before it can record the real one.
 *
 * Before OACP lets a side effect happen (a tool call forwarded, a workload started) it writes
 * here, with write(2), what the receipt says if the effect was started and its end is unknown
 * (`outcome: interrupted`): the predicate, built into a statement (and checked) only if it is
 * ever recovered, so the intent costs no schema check on the hot path. When the real receipt is durable in the log, a
 * second line marks the intent done. A process killed in between (kill -9, an OOM kill) leaves
 * intents without their mark; the next process to open the home for writing records each of
 * them as a receipt (recoverIntents), so no side effect is left without one.
 *
 * One file per process, locked with flock(2) for the process's life: the kernel drops the lock
 * when the holder dies, so a file that can be locked belongs to a dead process, with no pid to
 * trust and no staleness to judge. Lines reach the OS before the effect starts, so they survive
 * the death of any process; they are not fsynced (a power cut in that window can lose an
 * intent, as it can lose the effect's own unsynced writes), which keeps the cost to one
 * write(2) per effect.
 */
export class IntentJournal {
  /** Each pending intent's line, as written: what a compaction carries over. */
  #pending = new Map<string, Buffer>();
  #pendingBytes = 0;
  #bytes = 0;
  #closed = false;

  private constructor(
    private fd: number,
    readonly path: string,
  ) {}

  /** A journal that refuses every write: what a closing node hands out. */
  static closed(): IntentJournal {
    const journal = new IntentJournal(-1, '(closed)');
    journal.#closed = true;
    return journal;
  }

  /** Creates this process's journal in `dir` (made 0700 when missing), locked for its life. */
  static open(dir: string): IntentJournal {
    let fd: number | undefined;
    const path = join(dir, `${process.pid}-${randomBytes(6).toString('hex')}${SUFFIX}`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Written only where recovery will read it (see journalNames).
      if (!isPrivateFolder(dir)) {
        throw unwritable(
          `the intent journal folder ${dir} is a symlink or others may write to it`,
          undefined,
        );
      }
      fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND,
        0o600,
      );
      if (!tryExclusiveLock(fd))
        throw unwritable(`the intent journal ${path} is locked by another process`, undefined);
      return new IntentJournal(fd, path);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      if (error instanceof OacpError) throw error;
      throw unwritable(`cannot create the intent journal ${path}`, error);
    }
  }

  /** Writes the receipt `id` gets if this process dies before done(id); throws when it cannot (refuse the effect then). */
  write(id: string, statement: BuildStatementInput): void {
    if (this.#closed) throw unwritable('the intent journal is closed', undefined);
    const line = this.#append({ i: id, t: statement.predicateType, p: statement.predicate });
    this.#pending.set(id, line);
    this.#pendingBytes += line.length;
  }

  /** The real receipt of `id` is durable: its intent is void. Never throws (a lost mark only costs a duplicate "interrupted" receipt). */
  done(id: string): void {
    const line = this.#pending.get(id);
    if (line === undefined || this.#closed) return;
    this.#pending.delete(id);
    this.#pendingBytes -= line.length;
    try {
      this.#append({ d: id });
      // A long-lived process keeps the file small, even when something is always pending.
      if (this.#bytes > COMPACT_BYTES && this.#bytes > 4 * this.#pendingBytes) this.#compact();
    } catch {
      // The intent stays: if this process dies, its effect gets an "interrupted" receipt beside the real one.
    }
  }

  /** Intents written and not yet done. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Closes the journal; removes it when nothing is pending (else the next opener records what is). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending.size === 0) unlinkQuietly(this.path);
    closeSync(this.fd);
  }

  #append(line: unknown): Buffer {
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    try {
      let at = 0;
      while (at < bytes.length) at += writeSync(this.fd, bytes, at);
    } catch (error) {
      // A part written (a full disk) is cut off, so the next line does not continue it into a
      // line recovery cannot read (which would leave every intent of the file unrecorded).
      try {
        ftruncateSync(this.fd, this.#bytes);
      } catch {
        // Left torn: recovery names the journal.
      }
      throw unwritable(`cannot write to the intent journal ${this.path}`, error);
    }
    this.#bytes += bytes.length;
    return bytes;
  }

  /**
   * Starts the file over with only the pending intents. Nothing pending: truncated in place.
   * Else the pending lines go to a new file, locked before it replaces this one by rename(2), so
   * at every instant the name holds every pending intent under this process's lock (a recovery
   * holding the old file finds it unlinked and leaves it). A failure keeps the old file as it was.
   */
  #compact(): void {
    if (this.#pending.size === 0) {
      ftruncateSync(this.fd, 0);
      this.#bytes = 0;
      return;
    }
    const next = `${this.path}${COMPACTING}`;
    const fd = openSync(
      next,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      if (!tryExclusiveLock(fd))
        throw unwritable(`the intent journal ${next} is locked by another process`, undefined);
      const bytes = Buffer.concat([...this.#pending.values()]);
      let at = 0;
      while (at < bytes.length) at += writeSync(fd, bytes, at);
      renameSync(next, this.path);
      closeSync(this.fd);
      this.fd = fd;
      this.#bytes = bytes.length;
    } catch (error) {
      closeSync(fd);
      unlinkQuietly(next);
      throw error;
    }
  }
}

/** What recovery did: receipts recorded, and journals it could not read (kept, named). */
export interface Recovery {
  readonly recorded: number;
  readonly unreadable: readonly string[];
  /** Why recording stopped (the log refused an append): what is left stays for the next opener. */
  readonly failed?: string;
  /**
   * The log's own repair at open: a torn record after the last whole one (a writer killed inside
   * write(2), never acknowledged, past every signed size) cut from log.wal, its bytes kept aside.
   */
  readonly tornLogTail?: { readonly truncatedBytes: number; readonly savedAs?: string };
}

/** Where the bytes of a torn tail were kept. */
function keptAs(torn: { readonly savedAs?: string }): string {
  return torn.savedAs === undefined ? 'all zero bytes (nothing to keep)' : `kept in ${torn.savedAs}`;
}

/**
 * What a running process says of a torn tail its own append found and cut (TransparencyLogOptions.onTornTail):
 * another process on the home was killed while writing the log.
 */
export function describeTornTailCut(cut: {
  readonly truncatedBytes: number;
  readonly savedAs?: string;
}): string {
  return `the log ended in ${cut.truncatedBytes} bytes of a record another process on this home was killed while writing (never acknowledged, covered by no checkpoint): cut from log.wal before this process appended, ${keptAs(cut)}`;
}

/** What a process that opened a home says of the recovery it made (nothing when there was none). */
export function describeRecovery(recovery: Recovery): string[] {
  const lines: string[] = [];
  if (recovery.recorded > 0) {
    lines.push(
      `recorded ${recovery.recorded} receipt(s) with outcome "interrupted": an earlier OACP process on this home started those calls or runs and ended (killed) before recording them`,
    );
  }
  if (recovery.failed !== undefined) {
    lines.push(
      `receipts of calls or runs an earlier killed process started could not be recorded now (${recovery.failed}); they stay in its intent journal for the next process that opens this home`,
    );
  }
  const torn = recovery.tornLogTail;
  if (torn !== undefined && torn.truncatedBytes > 0) {
    lines.push(
      `the log ended in ${torn.truncatedBytes} bytes of a record an earlier process was killed while writing (never acknowledged, covered by no checkpoint): cut from log.wal, ${keptAs(torn)}`,
    );
  }
  for (const path of recovery.unreadable) {
    lines.push(`intent journal ${path} could not be read (kept, not recorded): check it by hand`);
  }
  return lines;
}

/**
 * Records the receipt of every intent left by a dead process in `dir`, then removes its journal.
 * A journal another process still holds is skipped. When `record` fails (the log cannot take a
 * receipt now) recovery stops there and says why; the rest stays for the next opener. Each intent recorded is marked done in the
 * journal (under its lock) before the next, so a recovery that dies itself is resumed, not repeated.
 */
export async function recoverIntents(
  dir: string,
  record: (statement: OacpStatement, since?: number) => Promise<unknown>,
  size: () => number = () => 0,
): Promise<Recovery> {
  const names = journalNames(dir);
  if (names === undefined) return { recorded: 0, unreadable: entryExists(dir) ? [dir] : [] };
  removeKilledCompactions(dir, names.compactions);
  let recorded = 0;
  const unreadable: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS | constants.O_RDWR | constants.O_APPEND);
    } catch {
      continue;
    }
    try {
      if (!fstatSync(fd).isFile() || !tryLock(fd)) continue;
      // Another recovery finished it between our open and our lock: nothing left to record.
      const stat = fstatSync(fd);
      if (stat.nlink === 0) continue;
      // Only what the home's owner (or root, who can write anything there) wrote is signed by the
      // home's key, only to a bound, and only from a file with no other name (a hard link planted
      // here would have recovery append to, and cut, a file elsewhere).
      let read: { text: string; complete: number; size: number } | undefined;
      try {
        if (
          (stat.uid === names.owner || stat.uid === 0) &&
          stat.nlink === 1 &&
          stat.size <= MAX_JOURNAL_BYTES
        )
          read = wholeLines(fd);
      } catch {
        // Named below.
      }
      const pending = read === undefined ? undefined : pendingIntents(read.text);
      if (read === undefined || pending === undefined) {
        unreadable.push(path);
        continue;
      }
      // A torn last line (its writer died in the write, before its effect) is cut off, under the
      // lock: a mark appended after it would otherwise continue it into a line no recovery can
      // read, leaving every intent of the journal unrecorded.
      if (read.complete < read.size) ftruncateSync(fd, read.complete);
      for (const [id, { statement, since }] of pending) {
        try {
          // Where the log stood before this receipt: a recovery killed between recording it and
          // marking it done leaves this line, and the next one looks there before recording again.
          writeSync(fd, `${JSON.stringify({ r: id, s: size() })}\n`);
          await record(statement, since);
          writeSync(fd, `${JSON.stringify({ d: id })}\n`);
        } catch (error) {
          return { recorded, unreadable, failed: describeError(error) };
        }
        recorded += 1;
      }
      unlinkQuietly(path);
    } finally {
      closeSync(fd);
    }
  }
  return { recorded, unreadable };
}

/** Whether `dir` holds a journal no live process holds (a cheap check before opening a home for writing). */
export function hasOrphanedIntents(dir: string): boolean {
  const names = journalNames(dir);
  if (names === undefined) return false;
  for (const name of [...names, ...names.compactions]) {
    let fd: number;
    try {
      fd = openSync(join(dir, name), OPEN_FLAGS | constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      if (fstatSync(fd).isFile() && tryLock(fd)) return true;
    } finally {
      closeSync(fd);
    }
  }
  return false;
}

const SUFFIX = '.intents';
/** Appended to a journal's name while a compaction writes its successor (see #compact). */
const COMPACTING = '.compacting';
/**
 * Opening a journal never follows a symlink and never waits: a FIFO planted under the name would
 * block a plain open(2) until a writer came (every `oacp log` command hung on one).
 */
const OPEN_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** A journal larger than this is named, not read: a process's pending intents are far smaller. */
const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;

/**
 * The journals in `dir` and the owner they must have (the directory's), or undefined when `dir`
 * is missing or is not a directory only its owner can write: a symlink planted as HOME/intents
 * (it would take another home's journals, record them here and remove them there) or a folder
 * others may write to (anyone could have a receipt signed by the home's key) is not read.
 */
function journalNames(dir: string): (string[] & { owner: number; compactions: string[] }) | undefined {
  try {
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || (stat.mode & 0o022) !== 0) return undefined;
    const all = readdirSync(dir);
    const names = all.filter((name) => name.endsWith(SUFFIX));
    const compactions = all.filter((name) => name.endsWith(`${SUFFIX}${COMPACTING}`));
    return Object.assign(names, { owner: stat.uid, compactions });
  } catch {
    return undefined;
  }
}

/**
 * Removes what compactions killed before their rename left. Such a file only ever holds a copy of
 * pending lines its journal still holds (the journal is replaced by rename, or not at all), so it
 * is never recorded. One a live process holds locked is a compaction under way, and is left; one
 * unlinked while its writer is between open and lock makes that compaction fail, keeping the
 * journal as it was.
 */
function removeKilledCompactions(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS | constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      if (fstatSync(fd).isFile() && tryLock(fd)) unlinkQuietly(path);
    } finally {
      closeSync(fd);
    }
  }
}
/** A journal with nothing pending is emptied once it grows past this. */
const COMPACT_BYTES = 1 << 20;

const Line = z.union([
  z.strictObject({ i: z.string().min(1), t: z.string(), p: z.record(z.string(), z.unknown()) }),
  z.strictObject({ d: z.string().min(1) }),
  z.strictObject({ r: z.string().min(1), s: z.number().int().min(0) }),
]);

/** An intent left pending, and where the log stood when a recovery began recording it (if one did). */
interface PendingIntent {
  readonly statement: OacpStatement;
  readonly since?: number;
}

/**
 * The intents of a journal not marked done, in order; undefined when a line other than a torn
 * last one is not an intent or a mark, or an intent is not a statement OACP defines.
 */
function pendingIntents(text: string): Map<string, PendingIntent> | undefined {
  const pending = new Map<string, PendingIntent>();
  const lines = text.split('\n');
  for (const [at, line] of lines.entries()) {
    if (line === '') continue;
    let parsed: z.infer<typeof Line>;
    try {
      parsed = Line.parse(JSON.parse(line));
    } catch {
      // A torn last line is a write the process died in, before its effect started.
      if (at === lines.length - 1) break;
      return undefined;
    }
    // A repeated member reads differently to another parser: not a line this code wrote.
    if (duplicateJsonKey(line) !== undefined) return undefined;
    if ('d' in parsed) {
      pending.delete(parsed.d);
      continue;
    }
    if ('r' in parsed) {
      const intent = pending.get(parsed.r);
      if (intent === undefined) return undefined;
      // The first attempt's size is the one that bounds where its receipt can be.
      if (intent.since === undefined) pending.set(parsed.r, { ...intent, since: parsed.s });
      continue;
    }
    try {
      // buildStatement checks the predicate strictly and derives its subjects, as for any receipt.
      const statement = buildStatement({
        predicateType: parsed.t,
        predicate: parsed.p,
      } as BuildStatementInput);
      // An intent only ever says its effect was interrupted: a line claiming anything else (a call
      // answered, a run that exited) is not an intent this code wrote, and is not signed.
      if ((statement.predicate as { outcome?: unknown }).outcome !== 'interrupted') return undefined;
      pending.set(parsed.i, { statement });
    } catch {
      return undefined;
    }
  }
  return pending;
}

/** The journal's complete lines, and where they end (a torn last line follows, up to `size`). */
function wholeLines(fd: number): { text: string; complete: number; size: number } {
  const bytes = readFileSync(fd);
  const complete = bytes.lastIndexOf(0x0a) + 1;
  return { text: bytes.subarray(0, complete).toString('utf8'), complete, size: bytes.length };
}

/** Removes a journal; one already gone has nothing left to recover either way. */
function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}

/** Locks `fd` now or says it could not, whatever the reason (another holder, an error). */
function tryLock(fd: number): boolean {
  try {
    return tryExclusiveLock(fd);
  } catch {
    return false;
  }
}

/**
 * Whether `dir` is a real directory no one else may write to (lstat: a symlink is not). Only
 * that is judged here: any other failure (EMFILE, EACCES...) is thrown, so the refusal names
 * its real cause instead of blaming the folder.
 */
function isPrivateFolder(dir: string): boolean {
  const stat = lstatSync(dir);
  return stat.isDirectory() && (stat.mode & 0o022) === 0;
}

function unwritable(message: string, cause: unknown): OacpError<IntentErrorCode> {
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  const hint =
    code === 'EMFILE' || code === 'ENFILE'
      ? ': this process has no file descriptor left (raise `ulimit -n`, or lower gateway.max_connections)'
      : '';
  const detail = code === undefined ? '' : ` (${code})${hint}`;
  return new OacpError<IntentErrorCode>('NODE_INTENT_UNWRITABLE', `${message}${detail}`);
}
