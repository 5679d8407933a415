import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { MANIFEST } from './harness.js';
import { useGateway } from './use-gateway.js';

/**
 * Another process on the gateway's home (an `oacp mcp run`, say) killed inside its write(2)
 * leaves a torn record at the end of the shared log while the gateway runs. The gateway's next
 * append must cut it (never acknowledged), keep its bytes aside, say so in its log, and write
 * its receipt after the last whole record: a receipt appended behind the torn bytes would be
 * unreadable to every later reader of the home.
 */
describe('a torn tail left in the log while the gateway runs', () => {
  const lines: string[] = [];
  const gw = useGateway({ logger: new Logger((line) => lines.push(line), 'debug') });

  it('attack: a killed writer leaves the start of a record; the next tool call is receipted after the cut, and the cut is logged naming the kept bytes', async () => {
    const agent = await gw.client.createAgent({ name: 'torn', manifest: MANIFEST });
    await gw.client.callTool('echo', { text: 'before' }, { agent: agent.id });
    const log = gw.gateway.node.log;
    const sizeBefore = log.size;
    const wal = join(gw.home, 'log', 'log.wal');
    const whole = statSync(wal).size;
    // Another process, killed after the first bytes of its record: a real write on the file.
    const torn = Buffer.from([0, 0, 0, 200, 0x6f, 0x61, 0x63, 0x70]);
    execFileSync(process.execPath, [
      '-e',
      `require('node:fs').appendFileSync(${JSON.stringify(wal)}, Buffer.from(${JSON.stringify([...torn])}))`,
    ]);
    expect(statSync(wal).size).toBe(whole + torn.length);

    const after = await gw.client.callTool('echo', { text: 'after' }, { agent: agent.id });
    expect(after.receipt?.index).toBe(sizeBefore);
    expect(log.size).toBe(sizeBefore + 1);
    const said = lines
      .map((line) => JSON.parse(line) as { level: string; msg: string })
      .find((line) => line.msg.includes('another process on this home was killed while writing'));
    expect(said?.level).toBe('warn');
    const [, bytes, kept] = /ended in (\d+) bytes .*kept in (\S+)/.exec(said?.msg ?? '') ?? [];
    expect(Number(bytes)).toBe(torn.length);
    expect(readFileSync(kept ?? '')).toEqual(torn);
    // Cut: the new record starts where the last whole one ended, and reads back whole.
    expect(readFileSync(wal).subarray(whole, whole + torn.length)).not.toEqual(torn);
    const entry = await log.entry(sizeBefore);
    expect(entry.length).toBeGreaterThan(0);
  });
});
