/**
 * Which of a pending call's arguments a person deciding it may see
 * (`approval_show_arguments` / `--approval-show-arguments`): the values of the
 * listed top-level fields, or every field with `*`. Everything else is hidden
 * by default, name kept and value dropped, so a secret passed as an argument
 * never leaves the process that holds it (docs/console.md).
 */
export interface ShownArguments {
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Names of the fields whose values were withheld, sorted. */
  readonly hidden: readonly string[];
}

export function shownArguments(
  args: Readonly<Record<string, unknown>>,
  show: readonly string[],
): ShownArguments {
  const all = show.includes('*');
  const shown: Record<string, unknown> = {};
  const hidden: string[] = [];
  for (const [name, value] of Object.entries(args)) {
    if (all || show.includes(name)) shown[name] = value;
    else hidden.push(name);
  }
  return { arguments: shown, hidden: hidden.sort() };
}
