import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { it } from 'vitest';
import { latencies, percentile, throughput } from '../../bench/harness.js';
import { envelopeBytes, signReceipt } from '../../src/attest/receipt.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { AttestedReceipts } from '../../src/mcp/receipts.js';
import { MemoryReceiptSink } from '../../src/mcp/record.js';
import { serveStdio } from '../../src/mcp/stdio.js';
import { lightUpstream, PipeClientTransport, SERVERS } from './helpers.js';

async function target(receipts: any) {
  const bridge = createBridge({ upstream: lightUpstream('bench', [SERVERS.everything, 'stdio']), receipts });
  const a = new PassThrough();
  const b = new PassThrough();
  await serveStdio(bridge, a, b);
  const client = new Client({ name: 'x', version: '1' });
  await client.connect(new PipeClientTransport(b, a));
  return {
    call: () => client.callTool({ name: 'echo', arguments: { message: 'bench' } }),
    close: async () => {
      await client.close();
      await bridge.close();
    },
  };
}

it('bench', async () => {
  const airlock = keySigner(generateEd25519().privateKey);
  let n = 0;
  const variants: [string, any][] = [
    ['memory', new MemoryReceiptSink()],
    [
      'signed',
      new AttestedReceipts({
        origin: 'x',
        writer: {
          record: async (s) => {
            envelopeBytes(signReceipt(s, { airlock }));
            return { index: n++ };
          },
        },
      }),
    ],
  ];
  for (const [name, sink] of variants) {
    const t = await target(sink);
    const l = await latencies(t.call, 2000, 300);
    const tp = await throughput(t.call, 5000, 16);
    console.log(name, 'p50', percentile(l, 50).toFixed(3), 'tput', tp.toFixed(0));
    await t.close();
  }
}, 120000);
