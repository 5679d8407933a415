import { type Document, isMap, isNode, isPair, isScalar, type LineCounter } from 'yaml';

/**
 * The line (1-based) of the YAML node at `path` in `document`, for error
 * messages: the key's line for an unknown key, else the value's, else the
 * nearest ancestor that exists.
 */
export function lineOf(
  document: Document,
  counter: LineCounter,
  path: readonly PropertyKey[],
  unknownKey?: string,
): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? document.contents : document.getIn(path.slice(0, depth) as unknown[], true);
    if (!isNode(node)) continue;
    if (depth === path.length && unknownKey !== undefined && isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && item.key.value === unknownKey,
      );
      const key = pair?.key;
      if (isNode(key) && key.range !== undefined && key.range !== null)
        return counter.linePos(key.range[0]).line;
    }
    if (node.range !== undefined && node.range !== null) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}
