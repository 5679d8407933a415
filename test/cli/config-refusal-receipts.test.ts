import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/gateway/config/load.js';
import { mcpFrontFromFile } from '../../src/gateway/config/mcp-options.js';
import { RAW_SERVER } from '../mcp/raw-harness.js';
import { oacp, tempDir } from './harness.js';

/**
 * `--refusal-receipts N` was a flag only: a deployment's oacp.yaml could not set the bridge's
 * refusal receipt limit. `mcp.refusal_receipts` (beside `mcp.servers`) sets it for
 * `oacp mcp run --config`; the flag wins (src/cli/commands/mcp.ts).
 */
describe('mcp.refusal_receipts in oacp.yaml', () => {
  const dir = tempDir('oacp-config-refusals-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, value: string): string => {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(
      config,
      [
        'mcp:',
        `  refusal_receipts: ${value}`,
        '  servers:',
        '    - name: raw',
        `      command: ${process.execPath}`,
        `      args: [${RAW_SERVER}]`,
        '      tier: light',
        '',
      ].join('\n'),
    );
    return config;
  };

  it('the front of --config reads its limit from the file; without the key it is left to the default', () => {
    expect(mcpFrontFromFile(write('seven', '7')).refusalReceipts).toBe(7);
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, `mcp:\n  servers:\n    - name: raw\n      command: ${process.execPath}\n`);
    expect(mcpFrontFromFile(plain).refusalReceipts).toBeUndefined();
  });

  it.each([
    ['0', /positive integer/],
    ['100001', /must be from 1 to 100000/],
    ['lots', /positive integer/],
  ])(
    'attack: refusal_receipts: %s is refused, naming the file and the key, before any server starts',
    async (value, message) => {
      const config = write(`bad-${value}`, value);
      expect(() => loadGatewayConfig(config)).toThrow(message);
      const run = await oacp(['mcp', 'run', '--config', config], { OACP_HOME: join(dir, 'home') });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`${config}:2: mcp.refusal_receipts`);
    },
  );
});
