import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { freshHome } from '../gateway/service/node-home.js';
import { type CliHttpBridge, startCliHttpBridge } from '../mcp/cli-http-bridge.js';

/**
 * A writer killed inside write(2) leaves a torn record after the log's last whole one. The next
 * opener cuts it (never acknowledged, covered by no checkpoint) and keeps its bytes aside: a
 * repair it made without a word to the operator, who could not tell a crash had happened on the
 * home. Every opener now says it (src/node/intent-journal.ts, describeRecovery).
 */
describe('a log with a torn tail, opened by the next process on the home', () => {
  const started: CliHttpBridge[] = [];
  let home: Awaited<ReturnType<typeof freshHome>> | undefined;
  afterAll(async () => {
    for (const bridge of started) await bridge.stop();
    home?.remove();
  });

  it('attack: the bridge cuts it and says so, naming the file that keeps the bytes', async () => {
    home = await freshHome('oacp-torn-said-');
    const first = await startCliHttpBridge('', [], 'light', home);
    started.push(first);
    await first.stop();
    const wal = join(home.home, 'log', 'log.wal');
    const whole = statSync(wal).size;
    // The start of a record, as far as a killed writer got.
    const torn = Buffer.from([0, 0, 0, 200, 0x6f, 0x61, 0x63, 0x70]);
    appendFileSync(wal, torn);

    const next = await startCliHttpBridge('', [], 'light', home);
    started.push(next);
    const [, bytes, kept] = await next.waitFor(
      /the log ended in (\d+) bytes of a record an earlier process was killed while writing .*kept in (\S+)/,
    );
    expect(Number(bytes)).toBe(torn.length);
    expect(readFileSync(kept ?? '')).toEqual(torn);
    expect(statSync(wal).size).toBe(whole);
  });

  it('attack: another process leaves a torn record while the bridge runs; its next append cuts it and says so, naming the kept bytes', async () => {
    const shared = await freshHome('oacp-torn-live-');
    const bridge = await startCliHttpBridge('', [], 'light', shared);
    started.push(bridge);
    const client = new Client({ name: 'torn-live', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(bridge.url, { requestInit: { headers: bridge.headers } }),
    );
    try {
      await client.callTool({ name: 'read_graph', arguments: {} });
      const wal = join(shared.home, 'log', 'log.wal');
      const whole = statSync(wal).size;
      // Another process on the home, killed inside its write: the start of a record, and no more.
      const torn = Buffer.from([0, 0, 0, 200, 0x6f, 0x61, 0x63, 0x70]);
      execFileSync(process.execPath, [
        '-e',
        `require('node:fs').appendFileSync(${JSON.stringify(wal)}, Buffer.from(${JSON.stringify([...torn])}))`,
      ]);
      expect(statSync(wal).size).toBe(whole + torn.length);

      await client.callTool({ name: 'read_graph', arguments: {} });
      const [, bytes, kept] = await bridge.waitFor(
        /the log ended in (\d+) bytes of a record another process on this home was killed while writing .*kept in (\S+)/,
      );
      expect(Number(bytes)).toBe(torn.length);
      expect(readFileSync(kept ?? '')).toEqual(torn);
      // Cut, and the receipt written in its place: the log goes on from the last whole record.
      expect(statSync(wal).size).toBeGreaterThan(whole);
      expect(readFileSync(wal).subarray(whole, whole + torn.length)).not.toEqual(torn);
    } finally {
      await client.close();
      await bridge.stop();
      shared.remove();
    }
  });
});
