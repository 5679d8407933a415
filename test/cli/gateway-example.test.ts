import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY_FILE, runGatewayCommand } from '../../src/cli/commands/gateway.js';
import type { Output } from '../../src/cli/io.js';
import { withLogState } from '../log-state.js';
import { oacp, tempDir } from './harness.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'oacp.yaml');

describe('examples/oacp.yaml as shipped', () => {
  it('oacp gateway --config examples/oacp.yaml starts on a fresh home and serves the files server tools', async () => {
    const home = tempDir('oacp-example-home-');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const lines: string[] = [];
    const output: Output = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
    const controller = new AbortController();
    let tools: string[] = [];
    // Only the port is changed (0: any free one), so parallel test runs do not collide on 8443.
    await runGatewayCommand({
      home,
      env: withLogState({}),
      output,
      config: EXAMPLE,
      listen: '127.0.0.1:0',
      logLevel: 'error',
      signal: controller.signal,
      onListening: async (gateway) => {
        try {
          const url = (await gateway.listen()).href;
          const key = readFileSync(join(home, ADMIN_KEY_FILE), 'utf8').trim();
          const response = await fetch(new URL('/v1/tools', url), {
            headers: { authorization: `Bearer ${key}` },
          });
          const body = (await response.json()) as { tools: { name: string }[] };
          tools = body.tools.map((tool) => tool.name);
        } finally {
          controller.abort();
        }
      },
    });
    expect(lines.some((line) => line.startsWith('oacp gateway listening on http://127.0.0.1:'))).toBe(true);
    expect(tools).toContain('files__list_directory');
    expect(tools).toContain('files__read_text_file');
  }, 120_000);
});
