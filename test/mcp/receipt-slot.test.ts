import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStatement } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { ReceiptSlot } from '../../src/mcp/receipt-slot.js';
import { logReceiptWriter } from '../../src/mcp/receipts.js';
import { toolCallPredicate } from '../attest/fixtures.js';

/** A tool-call statement naming `tool` (a name of 100,000 characters makes a receipt no log entry holds). */
const statement = (tool: string) => {
  const predicate = toolCallPredicate(undefined);
  return buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: { ...predicate, tool: { ...predicate.tool, name: tool } },
  });
};

// A real filesystem that fills up: a 4 MiB tmpfs (root only). The slot measures free space with
// statfs(2) on every call: a disk filled behind its back is refused on the next call, and the
// refusal ends as soon as space is freed.

const root = process.getuid?.() === 0;
const MIB = 1024 * 1024;
let mount = '';

beforeAll(() => {
  if (!root) return;
  mount = mkdtempSync(join(tmpdir(), 'oacp-slot-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
});
afterAll(() => {
  if (!root || mount === '') return;
  execFileSync('umount', [mount]);
  rmSync(mount, { recursive: true, force: true });
});

describe.skipIf(!root)('ReceiptSlot on a filesystem that fills up', () => {
  it('a disk filled behind its back is refused on the very next call', () => {
    const slot = new ReceiptSlot({ dir: mount, minFreeBytes: MIB });
    slot.check();
    // Another process leaves less than the minimum free.
    const ballast = join(mount, 'ballast');
    writeFileSync(ballast, Buffer.alloc(3.5 * MIB));
    try {
      expect(() => slot.check()).toThrow(/filesystem has \d+ bytes free, less than the 1048576/);
      // It stays refused while the disk is short.
      for (let i = 0; i < 5; i++) expect(() => slot.check()).toThrow(/bytes free/);
    } finally {
      unlinkSync(ballast);
    }
    // Space freed: the very next call is allowed.
    expect(() => slot.check()).not.toThrow();
  });

  it('a failed append closes the slot and the next call after a success measures the disk again', async () => {
    const slot = new ReceiptSlot({ dir: mount, minFreeBytes: MIB });
    slot.check();
    await expect(slot.track(Promise.reject(new Error('ENOSPC: no space left on device')))).rejects.toThrow();
    expect(() => slot.check()).toThrow(/last receipt could not be appended \(ENOSPC/);
    const ballast = join(mount, 'ballast');
    writeFileSync(ballast, Buffer.alloc(3.5 * MIB));
    try {
      await slot.track(Promise.resolve(1));
      // The success reopens the slot, and the full disk is seen at once.
      expect(() => slot.check()).toThrow(/bytes free/);
    } finally {
      unlinkSync(ballast);
    }
  });
});

describe('ReceiptSlot and a receipt too large for a log entry', () => {
  it('attack: one receipt the log refuses as too large (before writing) closes neither the slot nor a queued writer; a real failure still does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-slot-large-'));
    const log = await TransparencyLog.open(dir, {
      origin: 'test.oacp.invalid/slot',
      signer: keySigner(generateEd25519().privateKey),
    });
    try {
      const slot = new ReceiptSlot();
      await expect(slot.track(log.append(new Uint8Array(70_000)))).rejects.toMatchObject({
        code: 'LOG_ENTRY_TOO_LARGE',
      });
      // The log wrote nothing and can take the next entry: so can the slot.
      expect(() => slot.check()).not.toThrow();
      expect((await slot.track(log.append(new Uint8Array([1, 2, 3])))).index).toBe(0);
      // The queued writer (answers before the fsync, stops for good on a failed write) alike.
      const airlock = keySigner(generateEd25519().privateKey);
      const writer = logReceiptWriter(log, airlock, { ack: 'queued' });
      const oversized = statement('x'.repeat(100_000));
      await expect(writer.record(oversized)).rejects.toMatchObject({ code: 'LOG_ENTRY_TOO_LARGE' });
      expect(() => writer.reserve?.()).not.toThrow();
      expect((await writer.record(statement('echo'))).index).toBe(1);
      await writer.settled();
      // A failed write is still a failure that closes the slot.
      await expect(slot.track(Promise.reject(new Error('EIO: i/o error')))).rejects.toThrow();
      expect(() => slot.check()).toThrow(/last receipt could not be appended \(EIO/);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
