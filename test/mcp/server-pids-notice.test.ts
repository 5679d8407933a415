import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { processUpstream } from '../../src/mcp/upstream.js';
import { manifest, PYTHON } from '../escape/native-harness.js';

/**
 * A server refused threads at max_pids that hangs instead of exiting (as a
 * headless browser did for 110 s) is named on the bridge's log while it runs.
 */
const hardened = new HardenedTier({ pollMs: 25 });
const ok = (await hardened.availability()).available && existsSync(PYTHON);
const AS_ROOT = process.getuid?.() === 0;

const HANGING_SERVER = `
import threading, time
try:
    for i in range(64):
        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
except RuntimeError:
    pass
time.sleep(600)
`;

describe.skipIf(!ok)('an MCP server hung at max_pids', () => {
  it('is named on the log, with quotas.max_pids, before it ends', async () => {
    const lines: string[] = [];
    let told: (line: string) => void = () => undefined;
    const noticed = new Promise<string>((resolve) => {
      told = resolve;
    });
    const upstream = processUpstream({
      identity: { name: 'hang', command: PYTHON, args: [] },
      start: () =>
        hardened.start({
          command: PYTHON,
          args: ['-c', HANGING_SERVER],
          manifest: manifest(
            {},
            { max_pids: 16 },
            AS_ROOT ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] },
          ),
          env: {},
        }),
      stderr: (line) => lines.push(line),
      notice: told,
    });
    const link = await upstream.connect();
    let ended = false;
    void link.ended.then(() => {
      ended = true;
    });
    try {
      const line = await noticed;
      expect(ended).toBe(false);
      expect(line).toMatch(
        /^server at a limit of the Airlock \(pids\): .*limit of 16 .*raise with quotas\.max_pids/,
      );
    } finally {
      await link.stop();
    }
  }, 60_000);
});
