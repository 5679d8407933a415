import { beforeAll, describe, expect, it } from 'vitest';
import { encodeTileIndex, parseTilePath } from '../../src/log/tile-path.js';
import { raw } from '../gateway/service/harness.js';
import { useGateway } from '../gateway/service/use-gateway.js';

/**
 * c2sp.org/tlog-tiles paths as a third-party client sends them to the gateway: a well-formed
 * path the log has not written is a 404, a malformed one (which no conforming client sends)
 * a 400 naming the grammar, so a client bug is not mistaken for a log that lost a tile.
 */
describe('tile paths served by the gateway', () => {
  const gw = useGateway();
  beforeAll(async () => {
    const log = gw.gateway.node.log;
    for (let i = 0; i < 300; i += 1) await log.append(new TextEncoder().encode(`{"entry":${i}}`));
    await log.sync();
  });

  it('writes and reads large indices in x-prefixed 3-digit groups, one spelling only', () => {
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ level: 0, n: 1234067, width: 256 });
    expect(parseTilePath('tile/entries/x001/x234/067.p/7')).toEqual({
      level: 'entries',
      n: 1234067,
      width: 7,
    });
    for (const bad of ['tile/0/x001/234/067', 'tile/0/001/x234/067', 'tile/0/x000/001', 'tile/0/1234067'])
      expect(parseTilePath(bad), bad).toBeUndefined();
  });

  it('serves full tiles immutable, partial tiles briefly cached, the checkpoint not cached; HEAD alike', async () => {
    for (const [path, cache] of [
      ['tile/0/000', 'public, max-age=31536000, immutable'],
      ['tile/entries/000', 'public, max-age=31536000, immutable'],
      ['tile/0/001.p/44', 'public, max-age=60'],
      ['tile/entries/001.p/44', 'public, max-age=60'],
      ['tile/1/000.p/1', 'public, max-age=60'],
      ['checkpoint', 'no-store'],
    ] as const) {
      const get = await raw(gw.url, `/v1/log/${path}`);
      const head = await raw(gw.url, `/v1/log/${path}`, { method: 'HEAD' });
      for (const [method, got] of [
        ['GET', get],
        ['HEAD', head],
      ] as const) {
        expect(got.status, `${method} ${path}`).toBe(200);
        expect(got.headers.get('cache-control'), `${method} ${path}`).toBe(cache);
      }
      expect(head.text, path).toBe('');
      // A mirror sizes a tile with HEAD: the length it is told is the length GET sends.
      if (path !== 'checkpoint') {
        expect(head.headers.get('content-length'), path).not.toBeNull();
        expect(head.headers.get('content-length'), path).toBe(get.headers.get('content-length'));
      }
    }
    for (const [path, bytes] of [
      ['tile/0/000', 8192],
      ['tile/0/001.p/44', 44 * 32],
      ['tile/1/000.p/1', 32],
    ] as const) {
      const head = await raw(gw.url, `/v1/log/${path}`, { method: 'HEAD' });
      expect(head.headers.get('content-length'), path).toBe(String(bytes));
    }
  });

  it('answers 404 for a well-formed tile the log has not written (past the tree, or a width it never had)', async () => {
    for (const path of [
      'tile/0/002',
      'tile/0/001.p/45',
      'tile/entries/001.p/255',
      'tile/63/000',
      'tile/0/x001/x234/067',
    ]) {
      const got = await raw(gw.url, `/v1/log/${path}`);
      expect(got.status, path).toBe(404);
    }
    expect((await raw(gw.url, '/v1/log/tile/0/002', { method: 'HEAD' })).status).toBe(404);
  });

  it('refuses a malformed tile path with 400 naming the grammar', async () => {
    for (const path of [
      'tile/0/0000', // a fourth digit
      'tile/0/00', // a group too short
      'tile/0/x000/000', // a leading zero group
      'tile/0/000/x001', // x on the last group
      'tile/0/x001/234/067', // x missing on an inner group
      'tile/00/000', // a level with a leading zero
      'tile/64/000', // past the level cap
      'tile/0/000.p/0', // width 0
      'tile/0/000.p/256', // a full tile spelled as partial
      'tile/0/000.p/044', // a width with leading zeros
      'tile/0/x999/x999/x999/x999/x999/x999/999', // past any safe index
      'tile/0/000.p/',
      'tile/0/000/',
      'tile/0',
      'tile/',
      'tile/0/..%2F..%2Fcheckpoint',
    ]) {
      const got = await raw(gw.url, `/v1/log/${path}`);
      expect(got.status, path).toBe(400);
      expect(got.json, path).toMatchObject({ error: { code: 'BAD_REQUEST' } });
      expect(got.text, path).toContain('not a tlog-tiles path');
    }
  });
});
