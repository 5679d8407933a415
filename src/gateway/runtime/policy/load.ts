import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { sha256Hex } from '../../../core/digest.js';
import { OacpError } from '../../../core/errors.js';
import { inputFileFailure, readInputText } from '../../../core/input-file.js';
import { describeCedarErrors, policyDisplayIds } from '../../../policy/policy-text.js';
import type { RuntimeErrorCode } from '../errors.js';
import { GATEWAY_CEDAR_SCHEMA, TOLERATED_VALIDATION } from './schema.js';

/** A validated global policy set; its digest goes into every decision made with it. */
export interface GlobalPolicies {
  readonly text: string;
  readonly digest: string;
  readonly source: string;
  /** Display id (`@id` or positional) by Cedar's positional id. */
  readonly displayIds: ReadonlyMap<string, string>;
}

/** Reads and concatenates policy files in order; each must load on its own first, so errors name their file. */
export function loadGlobalPolicyFiles(paths: readonly string[]): GlobalPolicies {
  const texts = paths.map((path) => {
    let text: string;
    try {
      text = readInputText(path);
    } catch (error) {
      throw invalid(`cannot read policy file ${path}: ${inputFileFailure(error)}`);
    }
    loadGlobalPolicies(text, path);
    return text;
  });
  return loadGlobalPolicies(texts.join('\n'), paths.join(', '));
}

/**
 * Parses and validates `text` against the gateway schema. Anything wrong is an
 * error naming source, line and column: a policy set that loads partially would
 * enforce something its author did not write.
 */
export function loadGlobalPolicies(text: string, source = '<inline>'): GlobalPolicies {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') throw invalid(describeCedarErrors(parsed.errors, text, source));
  const validation = cedar.validate({ schema: GATEWAY_CEDAR_SCHEMA, policies: { staticPolicies: text } });
  if (validation.type === 'failure') throw invalid(describeCedarErrors(validation.errors, text, source));
  const fatal = validation.validationErrors
    .map((e) => e.error)
    .filter((error) => !TOLERATED_VALIDATION.some((pattern) => pattern.test(error.message)));
  if (fatal.length > 0) throw invalid(describeCedarErrors(fatal, text, source));
  return { text, digest: sha256Hex(text), source, displayIds: displayIds(text, source) };
}

/** The shared id mapping, its refusals re-labelled as this loader's. */
function displayIds(text: string, source: string): Map<string, string> {
  try {
    return policyDisplayIds(text, source);
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error));
  }
}

function invalid(message: string): OacpError<RuntimeErrorCode> {
  return new OacpError('RUNTIME_POLICY_INVALID', message);
}
