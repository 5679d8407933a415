import { TrieRouter } from 'hono/router/trie-router';
import type { Method } from './route.js';

const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'DELETE'];

/**
 * The methods the declared routes take at a path, for the `Allow` header of a `405` (RFC 9110
 * §15.5.6): a request of another method (`TRACE`, `OPTIONS`, `PUT`) at a path that has routes
 * is a wrong method, not a missing resource; it was a `404`. `HEAD` is allowed wherever `GET`
 * is (Hono answers it from the GET route). Empty: no route at the path, a `404`.
 */
export function allowedMethods(
  routes: readonly { readonly method: Method; readonly path: string }[],
): (path: string) => string[] {
  const router = new TrieRouter<Method>();
  for (const { method, path } of routes) router.add(method, path, method);
  return (path) => {
    const allowed = METHODS.filter((method) => router.match(method, path)[0].length > 0);
    return allowed.flatMap((method) => (method === 'GET' ? ['GET', 'HEAD'] : [method]));
  };
}
