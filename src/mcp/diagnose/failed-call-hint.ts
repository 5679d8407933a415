import { clipText } from '../../core/clip-text.js';
import type { JsonRpcError, JsonRpcResult } from '../jsonrpc.js';
import type { PermissionHint } from './permission-hints.js';
import { tmpFullHint } from './tmp-full-hint.js';
import { unixSocketHint } from './unix-socket-hint.js';

/** How much of a failed call's text is read for the hint: a browser's launch log fits well within it. */
const READ_AT_MOST = 64 * 1024;

/**
 * The grant a failed tools/call's own answer suggests, when the failure is the
 * sandbox's /tmp full (ENOSPC: quotas.tmp_mb), or the hardened tier refusing
 * socket(AF_UNIX): a server that launches a headless
 * browser per call (Playwright, Puppeteer) stays up and answers the call with
 * the browser's launch log (`socket() failed: Operation not permitted`), so no
 * stop line ever names `--allow-unix-sockets`. Only the hint leaves here,
 * never the answer's text (it may hold what the tool read). A guess from
 * text, said once, never applied by itself.
 */
export function failedCallHint(response: JsonRpcResult | JsonRpcError): PermissionHint | undefined {
  const text = failureText(response);
  if (text === undefined) return undefined;
  const lines = clipText(text, READ_AT_MOST).split('\n');
  return unixSocketHint(lines) ?? tmpFullHint(lines);
}

/** The text of a failed answer: an error's message, or the text items of a result marked isError. */
function failureText(response: JsonRpcResult | JsonRpcError): string | undefined {
  if ('error' in response) return response.error.message;
  const { isError, content } = response.result;
  if (isError !== true || !Array.isArray(content)) return undefined;
  return content
    .map((item: unknown) =>
      typeof item === 'object' && item !== null && typeof (item as { text?: unknown }).text === 'string'
        ? (item as { text: string }).text
        : '',
    )
    .join('\n');
}
