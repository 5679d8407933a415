import { verify } from 'node:crypto';
import type { PendingReceipt } from '../attest/verify-receipt.js';

/**
 * Answers every signature check the receipts are asking for now, each one on
 * libuv's thread pool (node:crypto's callback form), so they run beside the
 * main thread and one another. Resolves to whether any check was asked.
 * An error from a check is a failed check, as verifyEd25519 treats it.
 */
export async function answerOnThreadPool(
  receipts: readonly (PendingReceipt | undefined)[],
): Promise<boolean> {
  const asked: Promise<void>[] = [];
  for (const receipt of receipts) {
    if (receipt === undefined) continue;
    for (const question of receipt.questions()) {
      asked.push(
        new Promise<void>((resolve) => {
          const answer = (verifies: boolean) => {
            receipt.answer(question, verifies);
            resolve();
          };
          try {
            verify(null, question.message, question.key, question.signature, (error, ok) =>
              answer(error === null && ok),
            );
          } catch {
            answer(false);
          }
        }),
      );
    }
  }
  await Promise.all(asked);
  return asked.length > 0;
}
