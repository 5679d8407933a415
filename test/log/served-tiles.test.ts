import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { raw } from '../gateway/service/harness.js';
import { useGateway } from '../gateway/service/use-gateway.js';

/**
 * Issue 11 item 3/4: a tile cut short, altered or deleted while the gateway serves the log is
 * refused when it is served (checked against the tree replayed from the write-ahead log),
 * with an error and a counted security event, not handed out as it is.
 */
describe('tiles damaged while a gateway serves them', () => {
  let dir: string;
  let size: number;

  const gw = useGateway();
  beforeAll(async () => {
    dir = gw.gateway.services.logDir;
    const log = gw.gateway.node.log;
    for (let i = 0; i < 300; i += 1) await log.append(new TextEncoder().encode(`{"entry":${i}}`));
    await log.sync();
    size = log.size;
  });

  const damagedEvents = (): number => {
    const line = gw.gateway.services.metrics
      .render()
      .split('\n')
      .find((l) => l.startsWith('oacp_security_events_total') && l.includes('log_tile_damaged'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('serves intact tiles (the positive control)', async () => {
    expect(size).toBeGreaterThan(256);
    for (const path of ['tile/0/000', 'tile/entries/000', `tile/0/001.p/${size - 256}`]) {
      const got = await raw(gw.url, `/v1/log/${path}`);
      expect(got.status, path).toBe(200);
    }
    // Not needed by any published tree yet, or a partial width no checkpoint had: an ordinary
    // 404, no security event.
    expect((await raw(gw.url, '/v1/log/tile/0/002')).status).toBe(404);
    // (Rounds ran while the 300 entries were appended, so some smaller partial tiles exist on
    // disk, served as they are: ask for a width none of them had.)
    const unwritten = (kind: string) => {
      for (let width = size - 256 - 1; width > 0; width -= 1)
        if (!existsSync(join(dir, `tile/${kind}/001.p/${width}`))) return width;
      throw new Error(`every partial ${kind} tile was written`);
    };
    expect((await raw(gw.url, `/v1/log/tile/0/001.p/${unwritten('0')}`)).status).toBe(404);
    expect((await raw(gw.url, `/v1/log/tile/entries/001.p/${unwritten('entries')}`)).status).toBe(404);
    expect(damagedEvents()).toBe(0);
  });

  it('refuses a hash tile cut short', async () => {
    const file = join(dir, 'tile/0/000');
    const before = readFileSync(file);
    truncateSync(file, 8192 - 32);
    try {
      const got = await raw(gw.url, '/v1/log/tile/0/000');
      expect(got.status).toBe(503);
      expect(got.json).toMatchObject({ error: { code: 'LOG_CORRUPT' } });
      expect(got.text).toContain('tile/0/000');
      expect(damagedEvents()).toBe(1);
    } finally {
      writeFileSync(file, before);
    }
    expect((await raw(gw.url, '/v1/log/tile/0/000')).status).toBe(200);
  });

  it('refuses an altered entry bundle', async () => {
    const file = join(dir, 'tile/entries/000');
    const before = readFileSync(file);
    const altered = Buffer.from(before);
    altered[10] = (altered[10] ?? 0) ^ 1;
    writeFileSync(file, altered);
    try {
      const got = await raw(gw.url, '/v1/log/tile/entries/000');
      expect(got.status).toBe(503);
      expect(got.text).toContain('differs from the write-ahead log');
    } finally {
      writeFileSync(file, before);
    }
  });

  it('refuses a deleted tile that the published checkpoint needs, instead of a plain 404', async () => {
    const file = join(dir, 'tile/entries/000');
    const before = readFileSync(file);
    rmSync(file);
    try {
      const got = await raw(gw.url, '/v1/log/tile/entries/000');
      expect(got.status).toBe(503);
      expect(got.text).toContain('missing');
    } finally {
      writeFileSync(file, before);
    }
    expect(damagedEvents()).toBeGreaterThanOrEqual(3);
  });

  it('refuses the partial tile the published checkpoint needs when it is deleted', async () => {
    const path = `tile/0/001.p/${size - 256}`;
    const file = join(dir, path);
    const before = readFileSync(file);
    rmSync(file);
    try {
      expect((await raw(gw.url, `/v1/log/${path}`)).status).toBe(503);
    } finally {
      writeFileSync(file, before);
    }
  });

  it('refuses a tile another history wrote (right length, wrong hashes)', async () => {
    const path = `tile/0/001.p/${size - 256}`;
    const file = join(dir, path);
    const before = readFileSync(file);
    writeFileSync(file, Buffer.alloc(before.length, 7));
    try {
      expect((await raw(gw.url, `/v1/log/${path}`)).status).toBe(503);
    } finally {
      writeFileSync(file, before);
    }
  });
});
