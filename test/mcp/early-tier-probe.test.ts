import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LightTier } from '../../src/airlock/native/light.js';
import type { TierName } from '../../src/airlock/sandbox.js';
import { TierUnavailableError } from '../../src/airlock/tiers.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { probingTiers, requireTier, type TierLookup } from '../../src/mcp/tiers.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { PipeClientTransport, testClient } from './helpers.js';

/**
 * Issue 9: `oacp mcp run` starts the asked tier's availability probe (a bwrap or runsc run) while its run
 * modules load, instead of after them. The probe's answer still gates the start: a tier the early probe
 * found unavailable starts nothing, and the early registry serves the early start only.
 */
const NOISY = join(import.meta.dirname, 'fixtures', 'boot-noisy-server.mjs');

async function home(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-early-probe-'));
  await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/early-probe' });
  return dir;
}

/** Host processes whose command line holds `token`. */
function processesWith(token: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(token) && !line.includes('ps -eo'));
}

/** A registry standing in for probingTiers' one: records what was asked, answers with `answer`. */
function recordingTiers(answer: (name: TierName) => Promise<LightTier>): {
  tiers: TierLookup;
  asked: TierName[];
} {
  const asked: TierName[] = [];
  return {
    asked,
    tiers: {
      names: ['light'],
      availabilities: async () => [],
      selectTier: async (name) => {
        asked.push(name);
        return answer(name);
      },
    },
  };
}

describe('the tier probed while oacp mcp run loads', () => {
  it('a tier the early probe found unavailable starts no server, and the refusal names the tier', async () => {
    const dir = await home();
    const token = `early-probe-${process.pid}-${Date.now()}`;
    const { tiers, asked } = recordingTiers(async (name) => {
      throw new TierUnavailableError(name, 'bubblewrap cannot create namespaces here', 'enable them');
    });
    await expect(
      runMcpCommand(
        { command: [process.execPath, NOISY, token], tier: 'light', name: 'noisy' },
        { home: dir, env: {}, log: () => undefined, probing: tiers },
      ),
    ).rejects.toMatchObject({ code: 'AIRLOCK_TIER_UNAVAILABLE' });
    expect(asked).toContain('light');
    expect(processesWith(token)).toEqual([]);
  });

  it("the early start awaits the started probe's answer (no second registry), then serves the client", async () => {
    const dir = await home();
    const { tiers, asked } = recordingTiers(async () => new LightTier());
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const running = runMcpCommand(
      { command: [process.execPath, NOISY, 'probed'], tier: 'light', name: 'noisy' },
      { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: () => undefined, probing: tiers },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    expect(asked).toEqual(['light']);
    await client.close();
    toBridge.end();
    await running;
  });

  it('probingTiers answers as a fresh registry does; an unknown name starts nothing and is refused by name', async () => {
    const early = probingTiers('hardened');
    const [probed, fresh] = await Promise.allSettled([
      requireTier('hardened', early),
      requireTier('hardened'),
    ]);
    expect(probed.status).toBe(fresh.status);
    await expect(requireTier('nonesuch' as TierName, probingTiers('nonesuch'))).rejects.toMatchObject({
      code: 'AIRLOCK_TIER_UNAVAILABLE',
      message: expect.stringContaining('nonesuch'),
    });
  });
});
