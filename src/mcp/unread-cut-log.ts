import type { Clock } from '../airlock/quota/clock.js';
import { RefusalReceiptLimiter } from '../airlock/quota/refusal-limit.js';

/** Lines a listener writes a minute about answers it cut (also their burst); the rest are summed up. */
export const UNREAD_CUT_LINES_PER_MINUTE = 10;

/** What a listener does when it cuts an answer its client did not read (core/unread-answers.ts). */
export interface UnreadCutLog {
  readonly onCut: (bytes: number, limit: number) => void;
  /** Logs the count of the cuts not logged yet (on close, before the log goes). */
  readonly flush: () => Promise<void>;
}

/**
 * The operator-log lines of answers cut because a listener held more bytes for clients that do
 * not read than `setting` allows. Any client can cause a cut (ask for large answers, never read
 * them), so the lines are limited with the one refusal limiter (airlock/quota/refusal-limit.ts),
 * per listener: past the limit a cut is counted, and the count is logged once per window and on
 * close. Every line names the setting that raises the bound; `counted` sees every cut.
 */
export function unreadCutLog(
  say: (line: string) => void,
  where: { readonly holder: string; readonly setting: string },
  counted: (bytes: number) => void = () => undefined,
  clock?: Clock,
): UnreadCutLog {
  const perMinute = UNREAD_CUT_LINES_PER_MINUTE;
  const limiter = new RefusalReceiptLimiter(
    { perSourcePerMinute: perMinute, overallPerMinute: perMinute },
    async (summary) =>
      say(
        `${summary.count} more answer(s) unread by their clients cut from ${summary.from.toISOString()} to ${summary.to.toISOString()}, not logged one by one (at most ${perMinute} lines a minute; ${where.setting} sets the bound)`,
      ),
    clock,
  );
  return {
    onCut: (bytes, limit) => {
      counted(bytes);
      if (!limiter.admit({ name: where.holder }, where.holder)) return;
      say(
        `an answer of which ${bytes} bytes were unread by its client was cut and its connection closed: ${where.holder} holds at most ${limit} bytes of answers its clients have not read (${where.setting})`,
      );
    },
    flush: () => limiter.flushAll(),
  };
}
