import { networkInterfaces } from 'node:os';

/**
 * The addresses this host answers on, read when asked (interfaces come and
 * go). The proxy runs in the host's network namespace, so a name that
 * resolves to one of them reaches the host's own daemons as surely as
 * 127.0.0.1 does, even when the address itself is public.
 */
export type HostAddresses = () => readonly string[];

export const interfaceAddresses: HostAddresses = () =>
  Object.values(networkInterfaces()).flatMap((entries) =>
    (entries ?? []).map((entry) => entry.address.replace(/%.*$/, '')),
  );
