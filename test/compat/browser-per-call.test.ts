import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import type { CompatServer } from './servers.js';

/**
 * Playwright's and Puppeteer's MCP servers launch chromium per tools/call and
 * stay up when it fails: the hardened tier's refused socket(AF_UNIX) came back
 * only as the call's error text (`socket() failed: Operation not permitted`),
 * and since the server never stopped, no line named the flag that lifts it.
 * A fixture doing the same (a real Unix socket per call, a real EPERM): the
 * bridge's log names `--allow-unix-sockets`, once; with the flag the call
 * works and nothing is hinted. As root (its leased id) and as uid 1000.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : ['root'];
const HINT =
  /tools\/call launch failed; it may need Unix sockets .*: --allow-unix-sockets \(manifest: capabilities\.unix_sockets: true/;

const server = (flags: string[]): CompatServer => ({
  name: 'browser-per-call',
  script: join(import.meta.dirname, 'fixtures', 'browser-per-call.mjs'),
  args: () => [],
  lists: 'launch',
  call: { name: 'launch', arguments: () => ({}) },
  answer: 'answered',
  flags,
});

describe.skipIf(!binaryBuilt())('compat: a server failing a call on a refused Unix socket', () => {
  for (const identity of identities) {
    it(`as ${identity}: the call's failure names --allow-unix-sockets; with it the call works`, async () => {
      const refused = await runCompat(server([]), 'hardened', identity);
      expect(refused.tools).toContain('launch');
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/EPERM/);
      expect(refused.stderr).toMatch(HINT);
      // The hint, not the answer: what the tool said stays out of the bridge's log.
      expect(refused.stderr).not.toContain('EPERM');
      expect(refused.stderr.match(/--allow-unix-sockets/g)).toHaveLength(1);

      const allowed = await runCompat(server(['--allow-unix-sockets']), 'hardened', identity);
      expect([allowed.isError, allowed.text]).toEqual([
        false,
        JSON.stringify([{ type: 'text', text: 'browser launched' }]),
      ]);
      expect(allowed.stderr).not.toContain('--allow-unix-sockets');
    }, 120_000);
  }
});
