import { type AuditEntry, type AuditPage, type ConsoleApi, type Filter, query } from './api.js';
import { describeError, el, replace } from './dom.js';
import type { PublicKeys } from './keys.js';
import { receiptDetail } from './receipt-detail.js';
import { VirtualList } from './virtual-list.js';

const PAGE = 500;

/**
 * Activity: the newest receipts, paged in from GET /v1/receipts as the list
 * scrolls, with new ones arriving live from GET /v1/receipts/stream (same filters).
 */
export class ActivityPage {
  readonly element: HTMLElement;
  readonly #list: VirtualList<AuditEntry>;
  readonly #status = el('p', { class: 'status', role: 'status' });
  readonly #detail = el(
    'div',
    { 'aria-live': 'polite' },
    el(
      'p',
      { class: 'panel status' },
      'Select a receipt (click, or arrows and Enter) to see it and verify it in this browser.',
    ),
  );
  readonly #form: HTMLFormElement;
  #filter: Filter = {};
  #next: number | undefined;
  #loading = false;
  #live = new AbortController();
  #arrived = 0;

  constructor(
    private readonly api: ConsoleApi,
    private readonly keys: () => Promise<PublicKeys>,
  ) {
    this.#list = new VirtualList<AuditEntry>(
      'Receipts, newest first',
      row,
      (entry) => this.#open(entry),
      () => {
        void this.#more();
      },
    );
    const field = (name: keyof Filter, label: string, placeholder: string) =>
      el('label', {}, label, el('input', { name, placeholder, autocomplete: 'off' }));
    this.#form = el(
      'form',
      {
        class: 'filters',
        'aria-label': 'Filter receipts',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this.#apply();
        },
      },
      field('agent', 'Agent (did)', 'did:key:…'),
      el('label', {}, 'Server', el('input', { name: 'server', placeholder: 'memory', autocomplete: 'off' })),
      field('tool', 'Tool', 'read_graph'),
      el(
        'label',
        {},
        'Decision',
        el(
          'select',
          { name: 'decision' },
          el('option', { value: '' }, 'any'),
          el('option', { value: 'allow' }, 'allow'),
          el('option', { value: 'deny' }, 'deny'),
        ),
      ),
      field('since', 'Since', '15m, 2h or an ISO time'),
      el('button', { type: 'submit' }, 'Apply'),
    );
    this.element = el(
      'section',
      { 'aria-labelledby': 'activity-title' },
      el('h2', { id: 'activity-title' }, 'Activity'),
      this.#form,
      this.#status,
      el(
        'div',
        { class: 'split' },
        el(
          'div',
          {},
          el(
            'div',
            { class: 'vhead', 'aria-hidden': 'true' },
            el('span', {}, '#'),
            el('span', {}, 'time'),
            el('span', {}, 'tool'),
            el('span', {}, 'caller'),
            el('span', {}, 'decision'),
            el('span', {}, 'tier'),
          ),
          this.#list.element,
        ),
        this.#detail,
      ),
    );
    void this.#apply();
  }

  close(): void {
    this.#live.abort();
  }

  #server(): string {
    return String(new FormData(this.#form).get('server') ?? '').trim();
  }

  /** The server filter is applied here: the API filters by tool, agent, decision and time. */
  #shown(entries: readonly AuditEntry[]): AuditEntry[] {
    const server = this.#server();
    return server === '' ? [...entries] : entries.filter((entry) => entry.server === server);
  }

  async #apply(): Promise<void> {
    const data = new FormData(this.#form);
    const pick = (name: string) => String(data.get(name) ?? '').trim() || undefined;
    const filter: Record<string, string> = {};
    for (const name of ['agent', 'tool', 'decision', 'since']) {
      const value = pick(name);
      if (value !== undefined) filter[name] = value;
    }
    this.#filter = filter;
    this.#live.abort();
    this.#live = new AbortController();
    this.#list.set([]);
    this.#next = undefined;
    await this.#page(undefined);
    this.#follow(this.#live.signal);
  }

  async #more(): Promise<void> {
    if (this.#next !== undefined) await this.#page(this.#next);
  }

  async #page(before: number | undefined): Promise<void> {
    if (this.#loading) return;
    this.#loading = true;
    try {
      const page = await this.api.get<AuditPage>(
        `/v1/receipts${query({ ...this.#filter, limit: PAGE, ...(before === undefined ? {} : { before }) })}`,
      );
      this.#next = page.next;
      this.#list.append(this.#shown(page.entries));
      this.#status.textContent = `${this.#list.items.length} receipts shown of a log of ${page.logSize} entries${page.next === undefined ? '' : ' · scroll for older'} · new ones appear live`;
    } catch (error) {
      this.#status.textContent = `Could not list receipts: ${describeError(error)}`;
    } finally {
      this.#loading = false;
    }
  }

  #follow(signal: AbortSignal): void {
    this.api
      .stream(
        this.#filter,
        (entry) => {
          // The first page may already hold it (appended between the list and the stream).
          const newest = this.#list.items[0];
          if (newest !== undefined && newest.index >= entry.index) return;
          this.#list.prepend(this.#shown([entry]));
          this.#arrived += 1;
          this.#status.textContent = `${this.#list.items.length} receipts shown (${this.#arrived} arrived live)${this.#next === undefined ? '' : ' · scroll for older'}`;
        },
        signal,
      )
      .catch((error: unknown) => {
        if (!signal.aborted) this.#status.textContent = `Live updates stopped: ${describeError(error)}`;
      });
  }

  #open(entry: AuditEntry): void {
    replace(this.#detail, receiptDetail(this.api, this.keys, entry));
  }
}

function row(entry: AuditEntry): HTMLElement {
  return el(
    'div',
    { 'data-index': entry.index, title: entry.reason ?? '' },
    el('span', { class: 'mono' }, `#${entry.index}`),
    el('span', { title: entry.time ?? '' }, entry.time === undefined ? '' : shortTime(entry.time)),
    el('span', {}, entry.tool ?? entry.kind),
    el('span', { class: 'mono' }, shortDid(entry.caller)),
    el('span', { class: entry.decision ?? '' }, entry.decision ?? ''),
    el('span', {}, entry.tier ?? ''),
  );
}

/** Local date and time to the second, compact enough for the column. */
function shortTime(iso: string): string {
  const at = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

export function shortDid(did: string | undefined): string {
  if (did === undefined) return '';
  return did.startsWith('did:key:') && did.length > 24 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
}
