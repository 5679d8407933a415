import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { relativeArgumentsLine } from '../../src/mcp/diagnose/relative-arguments.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { PipeClientTransport, testClient } from './helpers.js';

const MEMORY = join(
  import.meta.dirname,
  '..',
  '..',
  'node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);
const hardened = (await new HardenedTier().availability()).available;

/**
 * `oacp mcp run -- npx -y @modelcontextprotocol/server-filesystem .` from a
 * project directory: the sandbox starts the server in its own private /tmp, so
 * `.` served that, empty, and nothing said so. The bridge now says at start
 * which arguments name paths there, where they point here, and what to pass.
 */
describe('a relative path argument to a sandboxed server', () => {
  it('names the argument, where it points here, and the absolute-path-plus-grant fix', () => {
    expect(relativeArgumentsLine('fs', ['.', '--flag', './data', 'word', '.hidden', '..'], '/srv/proj')).toBe(
      'oacp: fs: argument "." (here /srv/proj), "./data" (here /srv/proj/data), ".." (here /srv) names a path in the sandbox\'s own working directory (/tmp, private to it), not in /srv/proj: pass the absolute path, granted with --allow-files PATH (:rw to write)',
    );
    expect(relativeArgumentsLine('fs', ['/srv/proj', '-v', '.env.example'], '/srv/proj')).toBeUndefined();
    // A control character in an argument stays on the line.
    expect(relativeArgumentsLine('fs', ['./a\nb'], '/x')).toContain('"./a\\u000ab"');
  });

  const home = mkdtempSync(join(tmpdir(), 'oacp-relative-args-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const start = async (tier: 'hardened' | 'light'): Promise<string[]> => {
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const lines: string[] = [];
    const running = runMcpCommand(
      { command: [process.execPath, MEMORY, '.'], tier, name: 'memory' },
      { home, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    await client.close();
    await running;
    return lines.filter((line) => line.includes("sandbox's own working directory"));
  };

  it.skipIf(!hardened)(
    'is said once at start in the hardened tier, not in light (which runs here)',
    async () => {
      await KeyStore.init(home, { env: {} });
      writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/relative' });
      expect(await start('hardened')).toEqual([
        `oacp: memory: argument "." (here ${process.cwd()}) names a path in the sandbox's own working directory (/tmp, private to it), not in ${process.cwd()}: pass the absolute path, granted with --allow-files PATH (:rw to write)`,
      ]);
      expect(await start('light')).toEqual([]);
    },
    60_000,
  );
});
