import { describe, expect, it } from 'vitest';
import { manualClock } from '../airlock/quota/clock.js';
import { SUPPRESSION_WINDOW_MS } from '../airlock/quota/refusal-limit.js';
import { UNREAD_CUT_LINES_PER_MINUTE, unreadCutLog } from './unread-cut-log.js';

describe('the lines of answers cut unread', () => {
  it(`attack: 1,000 cuts in a minute: ${UNREAD_CUT_LINES_PER_MINUTE} lines naming the setting, then one summary with the count; every cut counted`, async () => {
    const clock = manualClock();
    const lines: string[] = [];
    let counted = 0;
    const log = unreadCutLog(
      (line) => lines.push(line),
      { holder: 'the gateway', setting: 'gateway.max_unread_answer_bytes' },
      () => counted++,
      clock.now,
    );
    for (let i = 0; i < 1_000; i++) log.onCut(8_000_000, 1_048_576);
    expect(counted).toBe(1_000);
    expect(lines).toHaveLength(UNREAD_CUT_LINES_PER_MINUTE);
    for (const line of lines) {
      expect(line).toBe(
        'an answer of which 8000000 bytes were unread by its client was cut and its connection closed: the gateway holds at most 1048576 bytes of answers its clients have not read (gateway.max_unread_answer_bytes)',
      );
    }
    // The window ends: the rest is said once, as a count, at the next cut.
    clock.advance(SUPPRESSION_WINDOW_MS);
    log.onCut(8_000_000, 1_048_576);
    await new Promise((resolve) => setImmediate(resolve));
    const summary = lines.find((line) => line.startsWith('990 more answer(s)'));
    expect(summary).toMatch(/at most 10 lines a minute; gateway\.max_unread_answer_bytes sets the bound\)$/);
    // The limit refills with time, as every refusal-log limit does.
    expect(lines.filter((line) => line.startsWith('an answer'))).toHaveLength(
      UNREAD_CUT_LINES_PER_MINUTE + 1,
    );
    await log.flush();
  });
});
