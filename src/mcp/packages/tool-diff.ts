/** A tool as listed: its name and the sha256 of its definition (ToolPins.digest). */
export interface ListedTool {
  readonly name: string;
  readonly digest: string;
}

export interface ToolDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Same name, different definition: description, schema or annotations changed. */
  readonly redefined: readonly string[];
}

export function diffTools(before: readonly ListedTool[], after: readonly ListedTool[]): ToolDiff {
  const old = new Map(before.map((tool) => [tool.name, tool.digest]));
  const now = new Map(after.map((tool) => [tool.name, tool.digest]));
  return {
    added: [...now.keys()].filter((name) => !old.has(name)).sort(),
    removed: [...old.keys()].filter((name) => !now.has(name)).sort(),
    redefined: [...now.entries()]
      .filter(([name, digest]) => old.has(name) && old.get(name) !== digest)
      .map(([name]) => name)
      .sort(),
  };
}

export function isEmptyDiff(diff: ToolDiff): boolean {
  return diff.added.length + diff.removed.length + diff.redefined.length === 0;
}

/** One line per change, for the terminal. */
export function describeDiff(diff: ToolDiff): string[] {
  if (isEmptyDiff(diff)) return ['tools: unchanged'];
  return [
    ...diff.added.map((name) => `  + ${name} (new tool)`),
    ...diff.removed.map((name) => `  - ${name} (removed)`),
    ...diff.redefined.map((name) => `  ~ ${name} (definition changed)`),
  ];
}
