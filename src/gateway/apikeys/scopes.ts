import { z } from 'zod';

/**
 * What an API key may do. `admin` includes every other scope; no other scope
 * implies another (write does not imply read), so a key holds exactly what
 * it was given.
 */
export const API_SCOPES = [
  'agents:read',
  'agents:write',
  'context:read',
  'context:write',
  'credentials:write',
  'tools:call',
  'a2a:send',
  'audit:read',
  'approvals:decide',
  'models:call',
  'keys:admin',
  'admin',
] as const;

export type ApiScope = (typeof API_SCOPES)[number];

export const ApiScopeSchema = z.enum(API_SCOPES, { error: `expected one of ${API_SCOPES.join(', ')}` });

export function scopeGranted(granted: readonly ApiScope[], required: ApiScope): boolean {
  return granted.includes('admin') || granted.includes(required);
}
