/** Children an element accepts: text is always set as text, never parsed as HTML. */
export type Child = Node | string | number | false | null | undefined;

type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** Builds an element: `on*` attributes become listeners, booleans toggle, text stays text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(node: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function replace(node: Node, ...children: Child[]): void {
  while (node.firstChild !== null) node.removeChild(node.firstChild);
  append(node, children);
}

/** A definition list of facts, skipping the ones that are absent. */
export function facts(rows: readonly [string, Child][]): HTMLDListElement {
  const list = el('dl', { class: 'facts' });
  for (const [name, value] of rows) {
    if (value === undefined || value === null || value === '') continue;
    append(list, [el('dt', {}, name), el('dd', {}, value)]);
  }
  return list;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
