import type { Sql } from '../sql.js';
import type { RequestNonceRepo } from '../types.js';

export function requestNonceRepo(sql: Sql): RequestNonceRepo {
  return {
    // One statement, so atomic on either backend: a new nonce is inserted, an expired row not yet pruned is taken
    // over, a live row is left alone (0 rows changed). Two nodes racing with one nonce: the second waits for the
    // first's row and then changes nothing.
    async remember(nonce, expiresAt, now) {
      const changed = await sql.run(
        'INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?) ' +
          'ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at ' +
          'WHERE request_nonces.expires_at <= ?',
        [nonce, Math.floor(expiresAt), now],
      );
      return changed === 1;
    },
    prune(now) {
      return sql.run('DELETE FROM request_nonces WHERE expires_at <= ?', [now]);
    },
  };
}
