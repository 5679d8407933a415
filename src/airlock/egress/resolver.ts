import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Every address a host name resolves to. Injected so tests can simulate rebinding. */
export type Resolver = (host: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (host) => {
  const answers = await lookup(host, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
};

/** IP literals are their own answer; names go to the resolver. */
export async function resolveAll(host: string, resolver: Resolver): Promise<readonly string[]> {
  return isIP(host) === 0 ? resolver(host) : [host];
}
