import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashLeaf } from './hash.js';
import { WriteAheadLog } from './wal.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function walPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-wal-'));
  dirs.push(dir);
  return join(dir, 'log.wal');
}

const bytes = (text: string) => new TextEncoder().encode(text);

async function replay(path: string, origin = 'example.com/log') {
  const hashes: string[] = [];
  const opened = await WriteAheadLog.open(path, origin, (hash) =>
    hashes.push(Buffer.from(hash).toString('hex')),
  );
  return { ...opened, hashes };
}

async function withEntries(path: string, entries: string[]): Promise<void> {
  const { wal } = await replay(path);
  await wal.append(
    entries.map(bytes),
    entries.map((e) => hashLeaf(bytes(e))),
  );
  await wal.close();
}

describe('WriteAheadLog', () => {
  it('replays appended records in order and reads entries back', async () => {
    const path = walPath();
    await withEntries(path, ['a', 'bb', '']);
    await withEntries(path, ['dddd']);
    const { wal, hashes, recovery } = await replay(path);
    expect(recovery.truncatedBytes).toBe(0);
    expect(hashes).toEqual(
      ['a', 'bb', '', 'dddd'].map((e) => Buffer.from(hashLeaf(bytes(e))).toString('hex')),
    );
    const entries = await wal.readEntries(0, 4);
    expect(entries.map((e) => new TextDecoder().decode(e))).toEqual(['a', 'bb', '', 'dddd']);
    expect(readFileSync(path, 'utf8').startsWith('oacp-wal/v1\nexample.com/log\n')).toBe(true);
    await expect(wal.readEntries(3, 5)).rejects.toMatchObject({ code: 'LOG_OUT_OF_RANGE' });
    await wal.close();
  });

  it('replays records that straddle its 1 MiB read windows', async () => {
    const path = walPath();
    const big = Array.from({ length: 40 }, (_, i) => String(i % 10).repeat(60_000 + i));
    await withEntries(path, big);
    const { wal, hashes, recovery } = await replay(path);
    expect(hashes).toHaveLength(40);
    expect(recovery.truncatedBytes).toBe(0);
    const [last] = await wal.readEntries(39, 40);
    expect(last?.length).toBe(60_039);
    await wal.close();
  });

  it('cuts a torn tail record back to the last whole one', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three']);
    const whole = statSync(path).size;
    appendFileSync(path, Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    const { wal, recovery, hashes } = await replay(path);
    expect(hashes).toHaveLength(3);
    expect(recovery.truncatedBytes).toBe(7);
    expect(statSync(path).size).toBe(whole);
    await wal.append([bytes('four')], [hashLeaf(bytes('four'))]);
    await wal.close();
    expect((await replay(path)).hashes).toHaveLength(4);
  });

  it('cuts a last record whose checksum does not match', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three']);
    const file = readFileSync(path);
    file.writeUInt8((file.at(-1) ?? 0) ^ 1, file.length - 1);
    writeFileSync(path, file);
    const { wal, hashes, recovery } = await replay(path);
    expect(hashes).toHaveLength(2);
    expect(recovery.truncatedBytes).toBe(4 + 32 + 5);
    await wal.close();
  });

  it('refuses a file of another origin or with no header', async () => {
    const path = walPath();
    await withEntries(path, ['one']);
    await expect(replay(path, 'example.com/other')).rejects.toMatchObject({ code: 'LOG_CORRUPT' });
    const garbage = walPath();
    writeFileSync(garbage, 'hello world, not a log\n');
    await expect(replay(garbage)).rejects.toMatchObject({ code: 'LOG_CORRUPT' });
  });
});
