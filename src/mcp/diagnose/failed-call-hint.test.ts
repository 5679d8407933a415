import { describe, expect, it } from 'vitest';
import { failedCallHint } from './failed-call-hint.js';

/** What @playwright/mcp answers browser_navigate when chromium cannot make its Unix sockets (seen in the hardened tier). */
const PLAYWRIGHT_LAUNCH_LOG = [
  '### Error',
  'Error: async initializeServer: Target page, context or browser has been closed',
  'Browser logs:',
  '<launched> pid=13',
  '[pid=13][err] [13:13:1207/010045.711864:FATAL:chrome/browser/process_singleton_posix.cc:297] Check failed: . socket() failed: Operation not permitted (1)',
].join('\n');

const result = (text: string, isError?: boolean) => ({
  jsonrpc: '2.0' as const,
  id: 1,
  result: { content: [{ type: 'text', text }], ...(isError === undefined ? {} : { isError }) },
});

describe('failedCallHint', () => {
  it("names --allow-unix-sockets for a failed call whose answer is chromium's refused socket", () => {
    expect(failedCallHint(result(PLAYWRIGHT_LAUNCH_LOG, true))?.flag).toBe('--allow-unix-sockets');
    expect(
      failedCallHint({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: PLAYWRIGHT_LAUNCH_LOG } })
        ?.flag,
    ).toBe('--allow-unix-sockets');
  });

  it('names --quota-tmp, then quotas.tmp_mb, for a failed call that ran out of room (ENOSPC) in its /tmp', () => {
    const answer = "Error: ENOSPC: no space left on device, write '/tmp/.cache/page.png'";
    expect(failedCallHint(result(answer, true))?.flag).toMatch(/^--quota-tmp <size>/);
    expect(failedCallHint(result(answer, true))?.manifest).toBe('quotas.tmp_mb: <MiB>');
    expect(failedCallHint(result(answer))).toBeUndefined();
  });

  it('says nothing for a call that succeeded, whatever its text, or failed otherwise', () => {
    // A page the tool read may well mention it: only a failed call is read.
    expect(failedCallHint(result(PLAYWRIGHT_LAUNCH_LOG))).toBeUndefined();
    expect(failedCallHint(result(PLAYWRIGHT_LAUNCH_LOG, false))).toBeUndefined();
    expect(failedCallHint(result('Error: fetch failed', true))).toBeUndefined();
    expect(
      failedCallHint({ jsonrpc: '2.0', id: 1, result: { isError: true, content: 'not a list' } }),
    ).toBeUndefined();
  });
});
