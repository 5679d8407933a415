import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvelopeBytes } from '../../src/attest/receipt.js';
import { verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { bridgeArgs, bridgeHome } from './home-bridge.js';
import { alive, eventually, INITIALIZE } from './raw-harness.js';

type Predicate = { tool?: { name?: string }; outcome?: string; delivered?: boolean };

async function predicates(home: string): Promise<Predicate[]> {
  const node = await OacpNode.open(home, {}, { readOnly: true });
  try {
    const found: Predicate[] = [];
    for (let index = 0; index < node.log.size; index++) {
      const verified = verifyReceiptEnvelope(parseEnvelopeBytes(await node.log.entry(index)), {
        airlockKeys: [node.keys.publicKeys().airlock.raw],
      });
      expect(verified.ok).toBe(true);
      found.push(verified.statement?.predicate as Predicate);
    }
    return found;
  } finally {
    await node.close();
  }
}

describe('a stdio client that stops reading the bridge (closes its end of the bridge stdout)', () => {
  it('attack: the client keeps the bridge stdin open but closes its stdout: the bridge ends, its server stops, and the call in flight gets its receipt', async () => {
    const home = await bridgeHome();
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-stdout-')), 'pids');
    const child = spawn(
      process.execPath,
      bridgeArgs(home, { flags: ['--tier', 'light', '--name', 'raw', '--allow-env', 'RAW_STARTS'] }),
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', RAW_STARTS: starts } },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let read = '';
      child.stdout.on('data', (chunk: Buffer) => {
        read += chunk.toString('utf8');
      });
      child.stdin.write(`${JSON.stringify(INITIALIZE)}\n`);
      await eventually(() => read.includes('"init"'), 'the answer to initialize', 20_000);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      // The client closes the pipe it reads from, and writes on: a call that never ends, then one
      // whose answer the bridge cannot write (EPIPE).
      child.stdout.destroy();
      const call = (id: number, name: string) =>
        `${JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { id } } })}\n`;
      child.stdin.write(call(1, 'hang'));
      child.stdin.write(call(2, 'echo'));
      // Without the fix the bridge reads on for ever: it never exits while its stdin stays open.
      expect(await exited).toBe(0);
      expect(alive(pid)).toBe(false);
      const records = await predicates(home);
      expect(records.filter((r) => r.tool?.name === 'hang')).toEqual([
        expect.objectContaining({ outcome: 'server-gone' }),
      ]);
      expect(records.filter((r) => r.tool?.name === 'echo')).toHaveLength(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      child.stdin.destroy();
    }
  }, 60_000);
});
