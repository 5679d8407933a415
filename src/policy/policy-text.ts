import type * as CedarTypes from '@cedar-policy/cedar-wasm/nodejs';
import { OacpError } from '../core/errors.js';
import { cedar } from './cedar.js';
import type { PolicyErrorCode } from './errors.js';
import { lineAndColumn } from './location.js';

/**
 * Display id of each policy in `text` by Cedar's positional id: its `@id`
 * annotation, else the positional id. Cedar numbers policies by position, and
 * `policySetTextToParts` returns them sorted by that id as a string (policy0,
 * policy1, policy10, ...), so sorting the positional ids the same way pairs
 * each part with its id. Two policies with one display id are refused.
 */
export function policyDisplayIds(text: string, source: string): Map<string, string> {
  const parts = cedar().policySetTextToParts(text);
  if (parts.type === 'failure') {
    throw new OacpError<PolicyErrorCode>('POLICY_SYNTAX', describeCedarErrors(parts.errors, text, source));
  }
  const positional = parts.policies.map((_, i) => `policy${i}`).sort();
  const ids = new Map<string, string>();
  const seen = new Set<string>();
  parts.policies.forEach((part, i) => {
    const cedarId = positional[i] ?? `policy${i}`;
    const json = cedar().policyToJson(part);
    const annotated = json.type === 'success' ? json.json.annotations?.id : undefined;
    const id = annotated ?? cedarId;
    if (seen.has(id)) {
      throw new OacpError<PolicyErrorCode>(
        'POLICY_DUPLICATE_ID',
        `${source}: two policies are named "${id}"`,
      );
    }
    seen.add(id);
    ids.set(cedarId, id);
  });
  return ids;
}

/** Cedar's errors as one line each, `source:line:column: message (label) (help)`, joined by `; `. */
export function describeCedarErrors(
  errors: readonly CedarTypes.DetailedError[],
  text: string,
  source: string,
): string {
  return errors.map((error) => describeOne(error, text, source)).join('; ');
}

function describeOne(error: CedarTypes.DetailedError, text: string, source: string): string {
  const location = error.sourceLocations?.[0];
  const where =
    location === undefined
      ? source
      : (() => {
          const { line, column } = lineAndColumn(text, location.start);
          return `${source}:${line}:${column}`;
        })();
  const label = location?.label ? ` (${location.label})` : '';
  const help = error.help ? ` (${error.help})` : '';
  return `${where}: ${error.message}${label}${help}`;
}
