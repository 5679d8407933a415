import { type IpAddress, parseIp } from './ip.js';

/** An address block such as `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128. */
export interface Cidr {
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
}

const WIDTH = { 4: 32, 6: 128 } as const;

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const width = WIDTH[address.version];
  let prefix: number = width;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > width) return undefined;
  }
  // Host bits are cleared so `10.1.2.3/8` means the same block as `10.0.0.0/8`.
  return { version: address.version, base: address.bits & mask(width, prefix), prefix };
}

function mask(width: number, prefix: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return all ^ ((1n << BigInt(width - prefix)) - 1n);
}

export function cidrContains(block: Cidr, address: IpAddress): boolean {
  if (block.version !== address.version) return false;
  return (address.bits & mask(WIDTH[block.version], block.prefix)) === block.base;
}

/** Whether every address in `inner` is also in `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.version === inner.version &&
    outer.prefix <= inner.prefix &&
    (inner.base & mask(WIDTH[outer.version], outer.prefix)) === outer.base
  );
}
