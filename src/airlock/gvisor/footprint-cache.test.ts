import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trustedCacheDirectory } from '../native/launcher/build.js';
import { footprintKey, readFootprint, writeFootprint } from './footprint-cache.js';

const MIB = 1024 * 1024;
const dir = trustedCacheDirectory();
const key = `test-${process.pid}-${Date.now()}`;
const file = dir === undefined ? '' : join(dir, `gvisor-${key}`);

describe.skipIf(dir === undefined)('gvisor footprint cache', () => {
  afterEach(() => rmSync(file, { force: true }));

  it('keeps a measured footprint for the next process', () => {
    expect(readFootprint(key)).toBeUndefined();
    writeFootprint(key, 19 * MIB);
    expect(readFootprint(key)).toBe(19 * MIB);
  });

  it('never trusts a reading others could have written, or one out of range', () => {
    writeFootprint(key, 19 * MIB);
    chmodSync(file, 0o666);
    expect(readFootprint(key)).toBeUndefined();
    for (const planted of ['0', '-5', `${1024 * MIB}`, 'lots', '']) {
      rmSync(file, { force: true });
      writeFileSync(file, planted, { mode: 0o644 });
      expect([planted, readFootprint(key)]).toEqual([planted, undefined]);
    }
  });

  it.skipIf(!existsSync('/usr/bin/runsc'))(
    'a different runsc binary or a missing one gives another key or none',
    () => {
      const runsc = footprintKey('/usr/bin/runsc', false, 1);
      expect(footprintKey('/usr/bin/env', false, 1)).not.toBe(runsc);
      expect(footprintKey('/usr/bin/runsc', true, 1)).not.toBe(runsc);
      expect(footprintKey('/usr/bin/runsc', false, 2)).not.toBe(runsc);
      expect(footprintKey('/nonexistent/runsc', false, 1)).toBeUndefined();
    },
  );
});
