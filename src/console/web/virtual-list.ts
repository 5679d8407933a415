import { el, replace } from './dom.js';

const ROW_HEIGHT = 34;
const OVERSCAN = 8;

/**
 * A list that renders only the rows in view (plus a few), so 100,000 receipts
 * cost as many DOM nodes as a screenful. Keyboard: arrows, Page Up/Down,
 * Home/End move the selection; Enter opens it.
 */
export class VirtualList<T> {
  readonly element: HTMLDivElement;
  readonly #spacer: HTMLDivElement;
  #items: T[] = [];
  #selected = -1;
  #frame = 0;

  constructor(
    label: string,
    private readonly renderRow: (item: T) => HTMLElement,
    private readonly onOpen: (item: T, position: number) => void,
    private readonly onNearEnd: () => void,
  ) {
    this.#spacer = el('div', { class: 'spacer' });
    this.element = el(
      'div',
      { class: 'vlist', role: 'listbox', tabindex: 0, 'aria-label': label, onscroll: () => this.#schedule() },
      this.#spacer,
    );
    this.element.addEventListener('keydown', (event) => this.#key(event));
  }

  get items(): readonly T[] {
    return this.#items;
  }

  set(items: T[]): void {
    this.#items = items;
    this.#selected = Math.min(this.#selected, items.length - 1);
    this.#schedule();
  }

  /** New items on top; the view keeps showing the rows it showed. */
  prepend(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items];
    if (this.#selected >= 0) this.#selected += items.length;
    if (this.element.scrollTop > 0) this.element.scrollTop += items.length * ROW_HEIGHT;
    this.#schedule();
  }

  append(items: readonly T[]): void {
    for (const item of items) this.#items.push(item);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#frame !== 0) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#render();
    });
  }

  #render(): void {
    const total = this.#items.length;
    this.#spacer.style.height = `${total * ROW_HEIGHT}px`;
    const top = this.element.scrollTop;
    const height = this.element.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const rows: HTMLElement[] = [];
    for (let at = first; at < last; at += 1) {
      const row = this.renderRow(this.#items[at] as T);
      row.classList.add('vrow');
      row.setAttribute('role', 'option');
      row.setAttribute('aria-selected', String(at === this.#selected));
      row.setAttribute('aria-setsize', String(total));
      row.setAttribute('aria-posinset', String(at + 1));
      row.style.top = `${at * ROW_HEIGHT}px`;
      row.addEventListener('click', () => this.#open(at));
      rows.push(row);
    }
    replace(this.#spacer, ...rows);
    if (last >= total - OVERSCAN) this.onNearEnd();
  }

  #open(at: number): void {
    const item = this.#items[at];
    if (item === undefined) return;
    this.#selected = at;
    this.#schedule();
    this.onOpen(item, at);
  }

  #key(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.element.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: page,
      PageUp: -page,
      Home: -Infinity,
      End: Infinity,
    };
    if (event.key === 'Enter' && this.#selected >= 0) {
      event.preventDefault();
      this.#open(this.#selected);
      return;
    }
    const move = moves[event.key];
    if (move === undefined || this.#items.length === 0) return;
    event.preventDefault();
    const next = Math.max(
      0,
      Math.min(this.#items.length - 1, (this.#selected < 0 ? -1 : this.#selected) + move),
    );
    this.#selected = next;
    const top = next * ROW_HEIGHT;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + ROW_HEIGHT > this.element.scrollTop + this.element.clientHeight)
      this.element.scrollTop = top + ROW_HEIGHT - this.element.clientHeight;
    this.#schedule();
    this.#open(next);
  }
}
