import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTACKERS, who } from '../escape/confine-harness.js';
import {
  exportAndVerify,
  killHard,
  type Listed,
  oacp,
  scratch,
  startBridge,
  until,
} from './killed-harness.js';

/**
 * A server's request the bridge passed to the client (sampling/createMessage: the client asks its
 * model) is an effect as a tools/call is: policed, and recorded when the client answers. A bridge
 * killed with SIGKILL while the client holds the request must still leave it a receipt, from its
 * intent, recorded once by the next oacp process on the home (test/cli/mcp-killed-bridge.test.ts
 * does the same for a tools/call).
 */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const SERVER = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'asker', version: '1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }] } });
  // The server asks the client's model; the bridge is killed before the client answers.
  else if (m.method === 'tools/call') send({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'sample-me' } }], maxTokens: 5 } });
});
`;

describe('a bridge killed with SIGKILL while the client holds a request of the server', () => {
  for (const user of ATTACKERS) {
    it(`attack ${who(user)}: the sampling request passed to the client gets one receipt, outcome interrupted, as does the call it came from`, async () => {
      const place = scratch(dirs, 'oacp-killed-ask-', user, SERVER);
      const { home, work } = place;
      const bridge = await startBridge(
        home,
        user,
        ['mcp', 'run', '--', process.execPath, join(work, 'server.mjs')],
        {
          name: 'asked',
          capabilities: { sampling: {} },
        },
      );
      try {
        bridge.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } });
        await until(() => bridge.stdout().includes('sample-me'), 'the sampling request to reach the client');
        await killHard(bridge.process);

        const listed = oacp(home, ['log', 'list', '--json'], user);
        expect(listed.status, listed.stderr).toBe(0);
        expect(listed.stderr).toContain('recorded 2 receipt(s) with outcome "interrupted"');
        const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries;
        expect(entries.filter((e) => e.tool === 'server-request:sampling/createMessage')).toHaveLength(1);
        expect(entries.filter((e) => e.tool === 'ask')).toHaveLength(1);
        // Once: the next reader records nothing more.
        const again = oacp(home, ['log', 'list', '--json'], user);
        expect(again.stderr).not.toContain('interrupted');
        expect((JSON.parse(again.stdout) as { entries: Listed[] }).entries).toHaveLength(entries.length);
        // A receipt like any other: it verifies offline with its inclusion proof.
        const asked = entries.find((e) => e.tool === 'server-request:sampling/createMessage');
        expect(exportAndVerify(place, asked?.index)).toMatchObject({
          tool: { name: 'server-request:sampling/createMessage' },
          outcome: 'interrupted',
          forwarded: true,
          policy: { effect: 'allow' },
        });
      } finally {
        bridge.process.kill('SIGKILL');
      }
    });
  }
});
