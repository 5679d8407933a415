import type { UpstreamConnector, UpstreamLink } from './upstream.js';

/** A connector whose first link was started ahead of its session, and how to drop it unclaimed. */
export interface PrestartedUpstream {
  readonly connector: UpstreamConnector;
  /** Stops the early link if no session claimed it (the bridge failed to set up); a no-op otherwise. */
  discard(): Promise<void>;
}

/**
 * Starts the server's first link now, so it boots while the bridge finishes
 * its own set-up; the session's first `connect()` claims that link, and every
 * later one (a restart) starts a new server as before. Only a connector whose
 * checks already ran may be given here (upstreamFor verifies the package tree
 * and the tier before it returns one). Nothing reaches the server early: its
 * stdout stays unread in the pipe until the session starts the link's
 * transport, and no client message is read before the session exists.
 */
export function prestartUpstream(connector: UpstreamConnector): PrestartedUpstream {
  let early: Promise<UpstreamLink> | undefined = connector.connect();
  // Claimed or discarded later; a failed start is reported by the first connect(), never unhandled here.
  early.catch(() => undefined);
  return {
    connector: {
      identity: connector.identity,
      connect: () => {
        const link = early;
        early = undefined;
        return link ?? connector.connect();
      },
    },
    discard: async () => {
      const link = early;
      early = undefined;
      if (link === undefined) return;
      await link.then(
        (started) => started.stop(),
        () => undefined,
      );
    },
  };
}
