import { looseName } from '../core/loose-name.js';

/**
 * The methods of the MCP specification (2025-11-25 and earlier), requests and notifications,
 * either way. The bridge forwards other methods as they are (extensions), but a name that
 * a lenient server could read as one of these (another case, spaces or control characters
 * around it, another Unicode form, zero-width characters) and that is not exactly it is
 * refused: `Tools/call ` would otherwise reach a server that matches names loosely as a tool
 * call with no check and no receipt.
 */
/** Requests MCP defines only from client to server (a server never sends them to its client). */
export const CLIENT_ONLY_REQUESTS = [
  'initialize',
  'tools/call',
  'tools/list',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
] as const;

export const MCP_METHODS = [
  ...CLIENT_ONLY_REQUESTS,
  'ping',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'notifications/tasks/status',
  'sampling/createMessage',
  'roots/list',
  'elicitation/create',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/elicitation/complete',
] as const;

const loose = looseName;

const BY_LOOSE_NAME = new Map<string, string>(MCP_METHODS.map((method) => [loose(method), method]));

/** The methods that imitate nothing when named exactly (every one: no two of them read alike). */
const EXACT = new Set<string>(MCP_METHODS.filter((method) => BY_LOOSE_NAME.get(loose(method)) === method));

/**
 * The MCP method `method` imitates, when it is not exactly that method but reads as it under
 * case folding, Unicode normalisation or ignored characters; undefined otherwise.
 */
export function imitatedMethod(method: string): string | undefined {
  // Almost every message names a method exactly: no normalisation for those.
  if (EXACT.has(method)) return undefined;
  const imitated = BY_LOOSE_NAME.get(loose(method));
  return imitated === undefined || imitated === method ? undefined : imitated;
}
