import type { z } from 'zod';

/** `capabilities.network.allowlist[2]` from zod's `['capabilities', 'network', 'allowlist', 2]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** One line per problem: `field: reason`, the way a user fixes a file. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = fieldPath(issue.path) || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    })
    .filter((line, index, lines) => lines.indexOf(line) === index)
    .join('; ');
}
