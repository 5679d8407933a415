import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * Socket buffers are memory too. On a cgroup v1 host the memory controller
 * charges TCP buffers to a cgroup only once that cgroup's TCP limit
 * (memory.kmem.tcp.limit_in_bytes) is set, and it was not: a hardened
 * sandbox under --quota-memory 64mb held 2.2 GiB in loopback connections it
 * never read (its own network namespace, but one count of TCP memory for the
 * whole host, tcp_mem), which reached the host's hard limit, where every TCP
 * socket of the host, in every namespace, is refused buffer memory. The
 * memory quota now bounds them too (UDP queues, 1.4 GiB before, as well) (v2 charges them to memory.current
 * anyway; gVisor's network stack lives in the sentry's charged memory).
 */
const TIERS = [new HardenedTier(), new GvisorTier()] as const;

/** Opens loopback connections and writes into each until it would block, never reading; says how many MiB it wrote. */
const FILL = `
import socket
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(512)
held, total = [], 0
for _ in range(300):
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    client.setblocking(False)
    while True:
        try:
            total += client.send(b'x' * (1 << 20))
        except BlockingIOError:
            break
    held.append((client, peer))
print('buffered', total >> 20, flush=True)
`;

/**
 * Sends datagrams nobody reads to 300 loopback receivers (80 of 60,000 bytes each, above a receive buffer's
 * largest size); says how many MiB wait in their queues (/proc/net/udp holds only this namespace's sockets).
 */
const UDP_FILL = `
import socket
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receivers = []
for _ in range(300):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 30)
    receiver.bind(('127.0.0.1', 0))
    receivers.append(receiver)
    for _ in range(80):
        try:
            sender.sendto(b'x' * 60000, receiver.getsockname())
        except OSError:
            break
queued = 0
for family in ('/proc/net/udp', '/proc/net/udp6'):
    for line in open(family).readlines()[1:]:
        queued += int(line.split()[4].split(':')[1], 16)
print('buffered', queued >> 20, flush=True)
`;

for (const tier of TIERS) {
  // As a regular user on a cgroup v1 host no memory controller is delegated: no memory quota to hold.
  const available = isRoot && existsSync(PYTHON) && (await tier.availability()).available;
  describe.skipIf(!available)(`${tier.name}: socket buffers`, () => {
    it.each([
      ['TCP connections', FILL],
      ['UDP queues', UDP_FILL],
    ])(
      'count towards --quota-memory: a sandbox under 64 MiB cannot hold more in %s it never reads',
      {
        timeout: 60_000,
      },
      async (_, script) => {
        const result = await run(tier, {
          command: PYTHON,
          args: ['-c', script],
          manifest: manifest({}, { memory_mb: 64, cpu_ms_per_request: 30_000, cpu_ms_total: 60_000 }),
        });
        const buffered = /^buffered (\d+)$/m.exec(result.out)?.[1];
        // Either the kernel held the buffers to the quota (the writes block) or it ended the sandbox for memory.
        if (buffered === undefined) expect(result.status.killedBy, result.err).toBe('memory');
        // The kernel grants each socket a small minimum even over the limit (tcp_wmem[0], tcp_rmem[0] and what it
        // had reserved), so 300 connections end a little above 64 MiB (78-79 here): bounded, where 1.1-2.2 GiB of TCP
        // and 1.4 GiB of UDP were.
        else expect(Number(buffered)).toBeLessThanOrEqual(128);
      },
    );
  });
}
