import { sha256Hex } from '../core/digest.js';
import { OacpError } from '../core/errors.js';
import { inputFileFailure, readInputText } from '../core/input-file.js';
import { cedar } from './cedar.js';
import type { PolicyErrorCode } from './errors.js';
import { describeCedarErrors, policyDisplayIds } from './policy-text.js';
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
    text = readInputText(path);
  } catch (error) {
    throw new OacpError<PolicyErrorCode>(
      'POLICY_READ',
      `cannot read policy file ${path}: ${inputFileFailure(error)}`,
    );
  }
  return loadPolicies(text, path);
}

/**
 * Parses `text` as a Cedar policy set and validates it against OACP's schema.
 * Any problem is an OacpError naming the source, line and column, because a
 * policy that loads partially would enforce something the author did not write.
 */
export function loadPolicies(text: string, source = '<inline>'): LoadedPolicies {
  const parsed = cedar().checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') {
    throw new OacpError<PolicyErrorCode>('POLICY_SYNTAX', describeCedarErrors(parsed.errors, text, source));
  }
  const validation = cedar().validate({ schema: OACP_CEDAR_SCHEMA, policies: { staticPolicies: text } });
  if (validation.type === 'failure') {
    throw new OacpError<PolicyErrorCode>(
      'POLICY_SCHEMA',
      describeCedarErrors(validation.errors, text, source),
    );
  }
  const fatal = validation.validationErrors.filter(
    (e) => !ARGUMENT_ATTRIBUTE_NOT_FOUND.test(e.error.message),
  );
  if (fatal.length > 0) {
    throw new OacpError<PolicyErrorCode>(
      'POLICY_SCHEMA',
      describeCedarErrors(
        fatal.map((e) => e.error),
        text,
        source,
      ),
    );
  }
  return { text, digest: sha256Hex(text), source, displayIds: policyDisplayIds(text, source) };
}
