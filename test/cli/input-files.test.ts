import { symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oacp, tempDir } from './harness.js';

const LIMIT = 'larger than 64 MiB (the limit)';

describe('files a user names are read to a bound', () => {
  const dir = tempDir('oacp-input-files-');
  // /dev/zero reports size 0 and never ends: read whole, it filled memory (16 GiB RSS in 90 s).
  const zero = (name: string) => {
    const path = join(dir, name);
    symlinkSync('/dev/zero', path);
    return path;
  };
  it('attack: /dev/zero as the receipt, signer key, config, manifest and agent file', async () => {
    const receipt = zero('receipt.json');
    const tries: Array<{ args: string[]; names: string }> = [
      { args: ['verify', receipt], names: `cannot read receipt ${receipt}` },
      {
        args: ['verify', '/etc/hostname', '--signer-key', zero('signer.pem')],
        names: 'cannot read signer key',
      },
      { args: ['config', 'check', zero('oacp.yaml')], names: 'GATEWAY_CONFIG_UNREADABLE' },
      {
        args: ['run', '--no-receipt', '--manifest', zero('m.yaml'), '--', '/bin/true'],
        names: 'cannot read manifest',
      },
      { args: ['run', '--no-receipt', zero('agent.js')], names: 'cannot read agent code' },
    ];
    for (const { args, names } of tries) {
      const result = await oacp(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr).toContain(names);
      expect(result.stderr).toContain(LIMIT);
    }
  });

  it('attack: a regular file one byte over the bound is refused; one under it is read', async () => {
    // Sparse files: truncate makes them that long without writing their bytes.
    const over = join(dir, 'over.json');
    writeFileSync(over, '');
    truncateSync(over, 64 * 1024 * 1024 + 1);
    const refused = await oacp(['verify', over]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`oacp: cannot read receipt ${over}: ${LIMIT}`);

    const under = join(dir, 'under.json');
    writeFileSync(under, 'x');
    truncateSync(under, 64 * 1024 * 1024);
    const read = await oacp(['verify', under]);
    expect(read.code).toBe(1);
    expect(read.stdout).toContain('FAIL receipt-json: the receipt is not valid JSON');
  });
});
