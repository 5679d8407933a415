import type { PermissionHint } from './permission-hints.js';

const REFUSED = /EPERM|Operation not permitted|Errno 1\]/i;
const SOCKET = /\bsocket\b|AF_UNIX|AF_LOCAL|\bunix\b/i;
/** Sockets `--allow-unix-sockets` does not lift (netlink, raw, packet): no hint for those. */
const OTHER_FAMILY = /netlink|AF_NETLINK|AF_PACKET|SOCK_RAW|raw socket/i;
/** Chromium's own words when it cannot make the Unix sockets it runs on. */
const CHROMIUM =
  /Failed to create socket|socket_utils_posix|Check failed: .*socket|Failed to launch the browser process/i;

/**
 * Whether a failed hardened workload's last stderr lines show socket(AF_UNIX)
 * refused (the workload filter's EPERM, or a headless browser's known
 * messages), and so the hint naming the opt-in and the safer tier. A guess
 * from text, only said on the failure path, never applied by itself.
 */
export function unixSocketHint(lines: readonly string[]): PermissionHint | undefined {
  // The refusal on a line, "socket" on it or just above (a traceback), and no other family named.
  const refusedSocket = lines.some(
    (line, at) =>
      REFUSED.test(line) &&
      !OTHER_FAMILY.test(line) &&
      lines.slice(Math.max(0, at - 3), at + 1).some((near) => SOCKET.test(near) && !OTHER_FAMILY.test(near)),
  );
  if (!refusedSocket && !lines.some((line) => CHROMIUM.test(line))) return undefined;
  return {
    permission:
      'Unix sockets (socket(AF_UNIX) is refused in the hardened tier; --tier gvisor, which keeps host sockets unreachable, is the safer choice)',
    flag: '--allow-unix-sockets',
    manifest: 'capabilities.unix_sockets: true; host sockets inside granted directories become connectable',
  };
}

/** The one line `oacp run` prints when a hardened workload failed on a refused Unix socket. */
export function describeUnixSocketHint(hint: PermissionHint): string {
  return `oacp: it may need ${hint.permission}: ${hint.flag} (manifest: ${hint.manifest})`;
}
