import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiptSlot } from '../../src/mcp/receipt-slot.js';

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
