/**
 * A security decision is a value with a reason, never a bare boolean, so every
 * refusal can be logged, put in a receipt and shown to the user as it was made.
 */
export type Decision =
  | { readonly effect: 'allow'; readonly reason: string; readonly policyId?: string }
  | { readonly effect: 'deny'; readonly reason: string; readonly policyId?: string };

export function allow(reason: string, policyId?: string): Decision {
  return policyId === undefined ? { effect: 'allow', reason } : { effect: 'allow', reason, policyId };
}

export function deny(reason: string, policyId?: string): Decision {
  return policyId === undefined ? { effect: 'deny', reason } : { effect: 'deny', reason, policyId };
}

/** Runs a check; an exception inside it is a deny carrying the error's message. */
export function decideSafely(check: () => Decision): Decision {
  try {
    return check();
  } catch (error) {
    return deny(`check failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
