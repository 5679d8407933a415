import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKS } from './native-attacks.js';
import { PYTHON, probe, Scenery } from './native-harness.js';

/** Files, environment, processes, devices and kernel interfaces: one probe run, one assertion per attack. */
const tier = new HardenedTier();
const availability = await tier.availability();
const skip = !availability.available || !existsSync(PYTHON);
if (skip)
  console.log(
    'skipping hardened escape corpus:',
    availability.available ? `${PYTHON} missing` : availability.reason,
  );

describe.skipIf(skip)('hardened tier contains', () => {
  const scenery = new Scenery();
  let hostPid = -1;
  let outcomes: Record<string, string> = {};

  beforeAll(async () => {
    hostPid = scenery.startSleeper();
    outcomes = await probe(
      tier,
      scenery,
      ATTACKS.map((attack) => attack.probe),
      hostPid,
    );
  });

  afterAll(() => scenery.dispose());

  for (const attack of ATTACKS) {
    it(`${attack.title} (${attack.probe})`, () => {
      expect([attack.probe, outcomes[attack.probe]]).toEqual([
        attack.probe,
        expect.stringMatching(attack.hardened),
      ]);
    });
  }

  it('leaves the host process it tried to kill and trace running', () => {
    expect(scenery.sleeperAlive()).toBe(true);
  });

  it('puts writes to an ungranted /tmp path in its private tmpfs, not on the host', async () => {
    const result = await probe(tier, scenery, ['write_ungranted'], hostPid);
    expect(result.write_ungranted).toBe('ok:written');
    expect(existsSync(join(scenery.root, 'pwned'))).toBe(false);
  });
});
