import { expect } from 'vitest';
import type { ExecutionPredicate } from '../../src/attest/execution.js';
import { parseEnvelopeBytes } from '../../src/attest/receipt.js';
import { verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { OacpNode } from '../../src/node/oacp-node.js';

/** Every receipt in the home's log, verified under its Airlock key (a failure fails the test). */
export async function executionReceipts(home: string): Promise<ExecutionPredicate[]> {
  const node = await OacpNode.open(home, {}, { readOnly: true });
  try {
    const found: ExecutionPredicate[] = [];
    for (let index = 0; index < node.log.size; index++) {
      const verified = verifyReceiptEnvelope(parseEnvelopeBytes(await node.log.entry(index)), {
        airlockKeys: [node.keys.publicKeys().airlock.raw],
      });
      expect(verified.ok).toBe(true);
      found.push(verified.statement?.predicate as ExecutionPredicate);
    }
    return found;
  } finally {
    await node.close();
  }
}
