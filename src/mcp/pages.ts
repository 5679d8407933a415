/** Collects every page of an MCP list method (tools, resources, prompts, …), following `nextCursor`. */
export async function allPages<K extends string>(
  list: (params: { cursor: string } | undefined) => Promise<unknown>,
  key: K,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  // A server that never stops paging is cut off rather than followed forever.
  for (let page = 0; page < 1000; page++) {
    const result = (await list(cursor === undefined ? undefined : { cursor })) as {
      [k in K]?: Record<string, unknown>[];
    } & { nextCursor?: string };
    // One by one: a page of a few hundred thousand items spread into push() overflows the stack.
    for (const item of result[key] ?? []) items.push(item);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return items;
}
