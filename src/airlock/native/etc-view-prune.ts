import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ownedAndClosed } from './launcher/build.js';

/** A view in use is stamped (its mtime set to now) at most once in this long, on a start that binds it. */
export const VIEW_STAMP_MS = 60 * 60 * 1000;
/** A view not stamped for this long has not been bound by any start for about as long: it is removed. */
export const VIEW_UNUSED_MS = 24 * 60 * 60 * 1000;
/** A build (`.etc-view-*`) that was not renamed into place within this long was killed: removed. */
const BUILD_ABANDONED_MS = 60 * 60 * 1000;
/** At most this many old entries are removed per new view, so a start never pays for a large cache. */
const PRUNE_LIMIT = 16;

const VIEW_NAME = /^etc-view-[0-9a-f]{16}$/;
/** Builds (mkdtemp's six characters) and views being removed (renamed below). */
const BUILD_NAME = /^\.etc-view-(?:[A-Za-z0-9]{6}|old-[0-9a-f]{12})$/;

/**
 * Marks a view as used by this start: its mtime is set to now when it is
 * older than VIEW_STAMP_MS (so one `utimes` an hour per view, not per
 * start). False when the view is gone (removed as unused meanwhile): the
 * caller builds it again.
 */
export function stampView(view: string, now = Date.now()): boolean {
  try {
    if (now - lstatSync(view).mtimeMs < VIEW_STAMP_MS) return true;
    const seconds = now / 1000;
    utimesSync(view, seconds, seconds);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes `/etc` views of the launcher cache that no start has bound for
 * VIEW_UNUSED_MS (stale since a copied file changed on the host, or of an
 * identity no longer used), and builds abandoned by a killed start. Only
 * OACP's own closed directories by their exact names, never `keep` (the view
 * being returned), at most PRUNE_LIMIT of them. A view is first renamed out
 * of its name (atomic), so a start can never bind one half removed: a start
 * racing the removal of a view unused for a day finds no view and fails, and
 * the next builds it again. Best effort: housekeeping never fails a start.
 */
export function pruneEtcViews(cacheDir: string, keep: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  let removed = 0;
  for (const name of names) {
    if (removed >= PRUNE_LIMIT) return;
    const view = VIEW_NAME.test(name);
    if ((!view && !BUILD_NAME.test(name)) || name === basename(keep)) continue;
    const path = join(cacheDir, name);
    try {
      if (!ownedAndClosed(path, 'directory')) continue;
      if (now - lstatSync(path).mtimeMs < (view ? VIEW_UNUSED_MS : BUILD_ABANDONED_MS)) continue;
      const doomed = join(cacheDir, `.etc-view-old-${randomBytes(6).toString('hex')}`);
      renameSync(path, doomed);
      rmSync(doomed, { recursive: true, force: true });
      removed++;
    } catch {
      // Gone already (a concurrent prune), or not removable: left for a later one.
    }
  }
}
