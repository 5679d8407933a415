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
  const wal = await WriteAheadLog.open(path, origin, true);
  const tail = await wal.catchUp((hash) => hashes.push(Buffer.from(hash).toString('hex')));
  return { wal, tail, hashes };
}

async function withEntries(path: string, entries: string[]): Promise<void> {
  const { wal } = await replay(path);
  await wal.append(
    entries.map(bytes),
    entries.map((e) => hashLeaf(bytes(e))),
  );
  await wal.datasync();
  await wal.close();
}

describe('WriteAheadLog', () => {
  it('replays appended records in order and reads entries back', async () => {
    const path = walPath();
    await withEntries(path, ['a', 'bb', '']);
    await withEntries(path, ['dddd']);
    const { wal, hashes, tail } = await replay(path);
    expect(tail).toEqual({ kind: 'clean' });
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
    const { wal, hashes, tail } = await replay(path);
    expect(hashes).toHaveLength(40);
    expect(tail).toEqual({ kind: 'clean' });
    const [last] = await wal.readEntries(39, 40);
    expect(last?.length).toBe(60_039);
    await wal.close();
  });

  it('cuts a torn tail record back to the last whole one, keeping its bytes aside', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three']);
    const whole = statSync(path).size;
    appendFileSync(path, Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    const { wal, tail, hashes } = await replay(path);
    expect(hashes).toHaveLength(3);
    expect(tail).toEqual({ kind: 'torn', offset: whole, bytes: 7 });
    if (tail.kind !== 'torn') throw new Error('not torn');
    await wal.cutTornTail(tail);
    expect(statSync(path).size).toBe(whole);
    expect(readFileSync(`${path}.torn-${whole}`)).toEqual(Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    await wal.append([bytes('four')], [hashLeaf(bytes('four'))]);
    await wal.close();
    expect((await replay(path)).hashes).toHaveLength(4);
  });

  it('calls a complete last record whose checksum fails damage, not a tear, and changes nothing', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three']);
    const file = readFileSync(path);
    file.writeUInt8((file.at(-1) ?? 0) ^ 1, file.length - 1);
    writeFileSync(path, file);
    const { wal, hashes, tail } = await replay(path);
    expect(hashes).toHaveLength(2);
    expect(tail).toMatchObject({ kind: 'corrupt', record: 2, reason: /checksum/ });
    expect(readFileSync(path)).toEqual(file);
    await wal.close();
  });

  it('calls a damaged length field of the last record damage: the rest still hashes to its leaf', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three']);
    const file = readFileSync(path);
    const last = file.length - (4 + 32 + 5);
    file.writeUInt32BE(900, last);
    writeFileSync(path, file);
    const { wal, tail } = await replay(path);
    expect(tail).toMatchObject({ kind: 'corrupt', record: 2, offset: last });
    await wal.close();
  });

  it('calls a flipped byte in a middle record damage, naming that record', async () => {
    const path = walPath();
    await withEntries(path, ['one', 'two', 'three', 'four']);
    const file = readFileSync(path);
    const header = 'oacp-wal/v1\nexample.com/log\n'.length;
    const second = header + 4 + 32 + 3;
    file.writeUInt8((file[second + 4 + 32] ?? 0) ^ 0x20, second + 4 + 32);
    writeFileSync(path, file);
    const { wal, tail, hashes } = await replay(path);
    expect(hashes).toHaveLength(1);
    expect(tail).toMatchObject({ kind: 'corrupt', record: 1, offset: second });
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

  it('replays a file of 200,000 records in one catch-up (no per-call argument limit)', async () => {
    const path = walPath();
    await withEntries(path, ['first']);
    // Written straight to the file: 200,000 appends through the API would only slow the test.
    const entry = bytes('e');
    const record = Buffer.concat([Buffer.from([0, 0, 0, 1]), hashLeaf(entry), entry]);
    appendFileSync(path, Buffer.concat(Array.from({ length: 199_999 }, () => record)));
    const { wal, tail, hashes } = await replay(path);
    expect(tail).toEqual({ kind: 'clean' });
    expect(hashes).toHaveLength(200_000);
    expect(wal.count).toBe(200_000);
    expect(await wal.readEntries(199_999, 200_000)).toEqual([entry]);
    await wal.close();
  });
});
