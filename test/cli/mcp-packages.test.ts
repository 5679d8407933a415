import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { oacp, tempDir } from './harness.js';

const tier = (await new HardenedTier().availability()).available ? 'hardened' : 'light';
const MEMORY = '@modelcontextprotocol/server-memory';

describe('oacp mcp add / update (real registry)', () => {
  it('pins what add installed, and update shows the tool changes and switches only with --yes', async () => {
    const home = tempDir('oacp-add-home-');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const added = await oacp(['--home', home, 'mcp', 'add', `npm:${MEMORY}@2025.4.25`]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`^${MEMORY}@2025\\.4\\.25 sha256:[0-9a-f]{64}$`));
    expect(added.stderr).toContain(`run it: oacp mcp run npm:${MEMORY}`);

    const shown = await oacp(['--home', home, 'mcp', 'update', MEMORY, '--to', '2026.8.31', '--tier', tier]);
    expect(shown.stdout).toContain(`${MEMORY}: 2025.4.25 -> 2026.8.31`);
    // Whatever changed between these releases is listed, one line per tool, before anything switches.
    expect(shown.stdout).toMatch(/^ {2}[+~-] \w+ \((new tool|removed|definition changed)\)$/m);
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain('--yes');
    const still = await oacp(['--home', home, 'mcp', 'add', `npm:${MEMORY}`]);
    expect(still.stdout).toContain('@2025.4.25 ');

    const switched = await oacp([
      '--home',
      home,
      'mcp',
      'update',
      MEMORY,
      '--to',
      '2026.8.31',
      '--yes',
      '--tier',
      tier,
    ]);
    expect(switched.code).toBe(0);
    expect(switched.stdout).toContain(`pinned ${MEMORY}@2026.8.31`);
    expect((await oacp(['--home', home, 'mcp', 'update', MEMORY, '--to', '2026.8.31'])).stdout).toContain(
      'is up to date (2026.8.31)',
    );
  }, 300_000);

  it('refuses uvx with the remedy instead of hanging', async () => {
    const home = tempDir('oacp-add-home-');
    const result = await oacp(['--home', home, 'mcp', 'add', '--', 'uvx', 'mcp-server-time']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PACKAGE_UVX_UNAVAILABLE: .*pipx install mcp-server-time/);
  });
});
