import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OacpNode } from '../../src/node/oacp-node.js';
import { bridgeArgs, bridgeHome, lineClient } from './home-bridge.js';
import { INITIALIZE } from './raw-harness.js';

const LEAKY_SERVER = join(import.meta.dirname, 'fixtures', 'leaky-server.mjs');
/** Shaped like no known key (the pattern redactor cannot know it): only its value says it is a secret. */
const TOKEN = 'q7Zt2mVx9KpL4wRb8NcY';

/** The token and the forms it leaks through (base64 inside `user:token`, URL- and JSON-escaped). */
function leaks(text: string): string[] {
  // Its first characters too: a JSON parser's error quotes a line's first ten, too few to be masked.
  const forms = [TOKEN, TOKEN.slice(0, 8), Buffer.from(`user:${TOKEN}`).toString('base64').slice(8, 24)];
  return forms.filter((form) => text.includes(form));
}

describe('a server quoting back the token it was handed (--allow-env)', () => {
  it('reaches the client in the answer, but no bridge line, no CLI stderr and no receipt', async () => {
    const home = await bridgeHome();
    const child = spawn(
      process.execPath,
      bridgeArgs(home, {
        flags: ['--tier', 'light', '--name', 'leaky', '--allow-env', 'LEAK_TOKEN'],
        server: [process.execPath, LEAKY_SERVER],
      }),
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', LEAK_TOKEN: TOKEN } },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const request = lineClient(child.stdin, child.stdout);
    await request(INITIALIZE);
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    await request({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const answer = await request({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'fetch', arguments: {} },
    });
    // The server's answer is the client's, by design: the token is there.
    expect(JSON.stringify(answer)).toContain(TOKEN);
    // Its stderr lines did reach the bridge (masked), so the assertion below is not vacuous.
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain('Authorization: Bearer [REDACTED]');
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain('basic auth');
    // Its stdout lines that are not JSON are shown masked, escaped, cut at a word (80 characters).
    await expect
      .poll(() => stderr, { timeout: 10_000 })
      .toContain('it reads "leaky server 1.0 ready on stdio \\u001b[31m(red)\\u001b[0m; set LEAK_TOKEN to…"');
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain('it reads "not json: [REDACTED]"');
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain('it reads "[REDACTED] was refused"');
    await expect
      .poll(() => stderr, { timeout: 10_000 })
      .toContain(
        'it reads "https://api.example.com/v1/items?client=oacp-test-suite&access_token=[REDACTED]…"',
      );
    child.stdin.end();
    await new Promise((resolve) => child.once('exit', resolve));
    expect(leaks(stderr)).toEqual([]);

    const node = await OacpNode.open(home, {}, { readOnly: true });
    try {
      expect(node.log.size).toBeGreaterThan(0);
      for (let index = 0; index < node.log.size; index += 1) {
        const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8')) as {
          payload: string;
        };
        const statement = Buffer.from(envelope.payload, 'base64').toString('utf8');
        expect(statement).toContain('"fetch"');
        expect(leaks(statement)).toEqual([]);
      }
    } finally {
      await node.close();
    }
  }, 60_000);
});
