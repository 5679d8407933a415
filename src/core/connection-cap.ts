import { readFileSync } from 'node:fs';

/** The most connections an OACP listener holds by default, whatever the open-file limit. */
export const MAX_CONNECTIONS_CEILING = 4096;

/**
 * How many connections an OACP listener (the gateway, the MCP bridge's `--http`) holds at once
 * by default: half the process's open-file limit, at most MAX_CONNECTIONS_CEILING. Every
 * connection is a descriptor, and without a cap a local client opening idle connections (each
 * allowed 10 s to send its headers) took every descriptor the process had: the log's intent
 * journal, the store and a server's pipes could no longer be opened, so every call was refused.
 * The other half stays for them. `limits`: the text of /proc/self/limits (Linux); unread, the ceiling.
 */
export function defaultMaxConnections(limits: string | undefined = readLimits()): number {
  const soft = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits ?? '')?.[1];
  if (soft === undefined || soft === 'unlimited') return MAX_CONNECTIONS_CEILING;
  return Math.max(1, Math.min(MAX_CONNECTIONS_CEILING, Math.floor(Number(soft) / 2)));
}

function readLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Caps `server` at `max` connections: Node closes each one past it as it is accepted, before a
 * byte is read. `onDropping` is told when dropping starts, then at most once a minute while it
 * goes on, with how many were dropped since it was last told (a flood must not flood the log).
 */
export function capConnections(
  server: { maxConnections: number; on(event: 'drop', listener: () => void): unknown },
  max: number,
  onDropping: (dropped: number) => void,
): void {
  server.maxConnections = max;
  let dropped = 0;
  let quietUntil = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now < quietUntil) return;
    quietUntil = now + 60_000;
    onDropping(dropped);
    dropped = 0;
  });
}
