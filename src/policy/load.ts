import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { sha256Hex } from '../core/digest.js';
import { OacpError } from '../core/errors.js';
import type { PolicyErrorCode } from './errors.js';
import { lineAndColumn } from './location.js';
import { ARGUMENT_ATTRIBUTE_NOT_FOUND, OACP_CEDAR_SCHEMA } from './schema.js';

/** A policy set that parsed and validated; its digest goes into every decision made with it. */
export interface LoadedPolicies {
  readonly text: string;
  /** sha256 (hex) of the policy text exactly as loaded. */
  readonly digest: string;
  /** Where the text came from, for messages ("<inline>" when not a file). */
  readonly source: string;
  /** Display id of each policy by Cedar's positional id (`policy0`, …): its `@id` annotation, else the positional id. */
  readonly displayIds: ReadonlyMap<string, string>;
}

export function loadPolicyFile(path: string): LoadedPolicies {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OacpError<PolicyErrorCode>('POLICY_READ', `cannot read policy file ${path}: ${reason(error)}`);
  }
  return loadPolicies(text, path);
}

/**
 * Parses `text` as a Cedar policy set and validates it against OACP's schema.
 * Any problem is an OacpError naming the source, line and column, because a
 * policy that loads partially would enforce something the author did not write.
 */
export function loadPolicies(text: string, source = '<inline>'): LoadedPolicies {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') {
    throw new OacpError<PolicyErrorCode>('POLICY_SYNTAX', describeAll(parsed.errors, text, source));
  }
  const validation = cedar.validate({ schema: OACP_CEDAR_SCHEMA, policies: { staticPolicies: text } });
  if (validation.type === 'failure') {
    throw new OacpError<PolicyErrorCode>('POLICY_SCHEMA', describeAll(validation.errors, text, source));
  }
  const fatal = validation.validationErrors.filter(
    (e) => !ARGUMENT_ATTRIBUTE_NOT_FOUND.test(e.error.message),
  );
  if (fatal.length > 0) {
    throw new OacpError<PolicyErrorCode>(
      'POLICY_SCHEMA',
      describeAll(
        fatal.map((e) => e.error),
        text,
        source,
      ),
    );
  }
  return { text, digest: sha256Hex(text), source, displayIds: displayIds(text, source) };
}

/**
 * Cedar numbers policies by position; `policySetTextToParts` returns them
 * sorted by that id as a string (policy0, policy1, policy10, …), so sorting the
 * positional ids the same way pairs each part with its id.
 */
function displayIds(text: string, source: string): Map<string, string> {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') {
    throw new OacpError<PolicyErrorCode>('POLICY_SYNTAX', describeAll(parts.errors, text, source));
  }
  const positional = parts.policies.map((_, i) => `policy${i}`).sort();
  const ids = new Map<string, string>();
  const seen = new Set<string>();
  parts.policies.forEach((part, i) => {
    const cedarId = positional[i] ?? `policy${i}`;
    const json = cedar.policyToJson(part);
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

function describeAll(errors: readonly cedar.DetailedError[], text: string, source: string): string {
  return errors.map((error) => describe(error, text, source)).join('; ');
}

function describe(error: cedar.DetailedError, text: string, source: string): string {
  const location = error.sourceLocations?.[0];
  const where = location === undefined ? source : at(text, source, location.start);
  const label = location?.label ? ` (${location.label})` : '';
  const help = error.help ? ` (${error.help})` : '';
  return `${where}: ${error.message}${label}${help}`;
}

function at(text: string, source: string, offset: number): string {
  const { line, column } = lineAndColumn(text, offset);
  return `${source}:${line}:${column}`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
