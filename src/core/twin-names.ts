import { clipText } from './clip-text.js';
import { looseName } from './loose-name.js';

/**
 * Member names that differ but read as one name to a lenient parser. Go's encoding/json (behind
 * many MCP servers: mcp-go, the official Go SDK) matches a member to a field case-insensitively
 * (Unicode simple folding: `ſ` reads as `s`) and keeps the last it meets, so
 * `{"name":"echo","NAME":"delete"}` is the tool `echo` to the bridge's checks and receipt but
 * `delete` to such a server, and `{"method":"ping","Method":"tools/call"}` a ping to the bridge
 * and a tool call to the server. Whatever checks a message for someone else must refuse it.
 */

/** Names `looseName` leaves as they are: printable ASCII with no capital letter and no space. */
const PLAIN = /^[!-@[-~]*$/;

/**
 * The first two member names of one object in `value` that are twins under `looseName`, or
 * undefined. `deep`: every object nested in `value` too, else its own members only. Iterative.
 * `maps`: member names whose object value is a map of data, not a record of fields (a JSON
 * Schema's `properties`): its own keys are matched exactly even by a lenient parser (Go decodes
 * them into a map, never onto struct fields), so `ID` beside `id` there is two names, and only
 * they are not compared; every value under them still is.
 */
export function twinMemberNames(
  value: unknown,
  deep = true,
  maps: ReadonlySet<string> = NO_MAPS,
): readonly [string, string] | undefined {
  const stack: { item: unknown; map: boolean }[] = [{ item: value, map: false }];
  while (stack.length > 0) {
    const { item, map } = stack.pop() as { item: unknown; map: boolean };
    if (typeof item !== 'object' || item === null) continue;
    if (!Array.isArray(item) && !map) {
      const twins = twinsIn(Object.keys(item));
      if (twins !== undefined) return twins;
    }
    if (!deep) return undefined;
    if (Array.isArray(item)) {
      for (const child of item)
        if (typeof child === 'object' && child !== null) stack.push({ item: child, map: false });
      continue;
    }
    for (const [name, child] of Object.entries(item))
      if (typeof child === 'object' && child !== null)
        stack.push({ item: child, map: !map && !Array.isArray(child) && maps.has(name) });
  }
  return undefined;
}

const NO_MAPS: ReadonlySet<string> = new Set();

function twinsIn(names: readonly string[]): readonly [string, string] | undefined {
  if (names.length < 2 || names.every((name) => PLAIN.test(name))) return undefined;
  const seen = new Map<string, string>();
  for (const name of names) {
    const loose = looseName(name);
    const first = seen.get(loose);
    if (first !== undefined) return [first, name];
    seen.set(loose, name);
  }
  return undefined;
}

/**
 * A member of `record` that is not one of `known` but reads as one under `looseName` (`Arguments`
 * alone reads as `arguments` to such a server, where the bridge sees no arguments), with the name
 * it imitates; undefined when there is none.
 */
export function imitatedMemberName(
  record: Readonly<Record<string, unknown>>,
  known: readonly string[],
): readonly [string, string] | undefined {
  for (const name of Object.keys(record)) {
    if (PLAIN.test(name) || known.includes(name)) continue;
    const loose = looseName(name);
    const imitated = known.find((candidate) => looseName(candidate) === loose);
    if (imitated !== undefined) return [name, imitated];
  }
  return undefined;
}

/** The refusal for a member name imitating one the protocol defines. */
export function imitatedNameReason(what: string, [name, imitated]: readonly [string, string]): string {
  return `${what} holds the member name ${JSON.stringify(clipText(name, 64))}, which is not ${JSON.stringify(imitated)} but differs from it only in case, spacing or Unicode form (a lenient parser reads it as ${JSON.stringify(imitated)})`;
}

/** The refusal for twin member names, worded the same wherever they are found. */
export function twinNamesReason(what: string, [first, second]: readonly [string, string]): string {
  const shown = (name: string) => JSON.stringify(clipText(name, 64));
  return `${what} holds the member names ${shown(first)} and ${shown(second)} in one object, which differ only in case, spacing or Unicode form (a lenient parser reads them as one name)`;
}

/**
 * Why `value` could read otherwise to a lenient parser, or undefined: twin member names in one
 * object (in any object nested in it too when `deep`), or a member of its own imitating one of
 * `known`. `what` names `value` in the reason.
 */
export function looseMemberProblem(
  value: unknown,
  known: readonly string[],
  what: string,
  deep = true,
  maps?: ReadonlySet<string>,
): string | undefined {
  const twins = twinMemberNames(value, deep, maps);
  if (twins !== undefined) return twinNamesReason(what, twins);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const imitated = imitatedMemberName(value as Readonly<Record<string, unknown>>, known);
  return imitated === undefined ? undefined : imitatedNameReason(what, imitated);
}
