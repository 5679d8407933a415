import { describe, expect, it } from 'vitest';
import { describeUnixSocketHint, unixSocketHint } from './unix-socket-hint.js';

describe('unixSocketHint', () => {
  it('names --allow-unix-sockets and --tier gvisor for a refused socket call', () => {
    const hint = unixSocketHint([
      '  File "/usr/lib/python3.11/socket.py", line 232, in __init__',
      'PermissionError: [Errno 1] Operation not permitted',
    ]);
    expect(hint?.flag).toBe('--allow-unix-sockets');
    expect(hint?.manifest).toContain('capabilities.unix_sockets: true');
    expect(describeUnixSocketHint(hint ?? { permission: '', flag: '', manifest: '' })).toMatch(
      /^oacp: it may need Unix sockets .*--tier gvisor.*: --allow-unix-sockets \(manifest: /,
    );
    expect(unixSocketHint(['socket: Operation not permitted'])).toBeDefined();
    expect(
      unixSocketHint(['[0101/000000.000:ERROR:socket_utils_posix.cc(42)] Failed to create socket']),
    ).toBeDefined();
  });

  it('says nothing for other failures', () => {
    expect(unixSocketHint(['Error: EACCES: permission denied, open /srv/x'])).toBeUndefined();
    expect(unixSocketHint(['chmod: Operation not permitted'])).toBeUndefined();
    expect(unixSocketHint(['connect to socket failed: connection refused'])).toBeUndefined();
    expect(unixSocketHint([])).toBeUndefined();
    // Chromium says this with --allow-unix-sockets too: netlink is not what the flag lifts.
    expect(
      unixSocketHint([
        '[2:33:ERROR:net/base/address_tracker_linux.cc:224] Could not create NETLINK socket: Operation not permitted (1)',
      ]),
    ).toBeUndefined();
    // "socket" far from the refusal is not a refused socket.
    expect(
      unixSocketHint(['listening on socket /tmp/x', 'a', 'b', 'c', 'd', 'chown: Operation not permitted']),
    ).toBeUndefined();
  });
});
