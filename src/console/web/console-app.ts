import { ActivityPage } from './activity-page.js';
import { AgentsPage } from './agents-page.js';
import { ApiError, ConsoleApi } from './api.js';
import type { Pending } from './approvals-page.js';
import { ApprovalsPage } from './approvals-page.js';
import { describeError, el, replace } from './dom.js';
import { loadKeys, type PublicKeys, setExpectedLogKey } from './keys.js';
import { LogHealthPage, SecurityEventsPage } from './log-health-page.js';

const KEY = 'oacp.console.api-key';
const PAGES = {
  activity: 'Activity',
  approvals: 'Approvals',
  agents: 'Agents',
  security: 'Security events',
  log: 'Log health',
} as const;
type PageName = keyof typeof PAGES;

interface Page {
  readonly element: HTMLElement;
  close(): void;
}

/**
 * <oacp-console>: the login form, then the navigation and one page at a time.
 * The API key lives in this tab's session storage only (gone when the tab
 * closes); everything the pages show comes from the public HTTP API with it.
 */
export class OacpConsole extends HTMLElement {
  #api: ConsoleApi | undefined;
  #keys: Promise<PublicKeys> | undefined;
  #page: Page | undefined;
  #nav = new Map<PageName, HTMLAnchorElement>();
  #main = el('main', { id: 'main', tabindex: -1 });
  #seen = new Set<string>();
  #poll = 0;

  connectedCallback(): void {
    const key = sessionStorage.getItem(KEY);
    if (key === null) this.#login();
    else this.#start(key);
    window.addEventListener('hashchange', () => this.#show());
  }

  disconnectedCallback(): void {
    window.clearInterval(this.#poll);
    this.#page?.close();
  }

  #login(message = ''): void {
    const input = el('input', {
      id: 'api-key',
      name: 'api-key',
      type: 'password',
      autocomplete: 'off',
      required: true,
      spellcheck: 'false',
    });
    const expected = el('input', {
      id: 'log-key',
      name: 'log-key',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'origin+keyid+base64 (optional)',
    });
    const status = el('p', { class: 'error', role: 'alert' }, message);
    replace(
      this,
      el(
        'form',
        {
          class: 'login panel',
          'aria-labelledby': 'login-title',
          onsubmit: async (event: Event) => {
            event.preventDefault();
            const key = input.value.trim();
            const badLogKey = await setExpectedLogKey(expected.value);
            if (badLogKey !== undefined) {
              status.textContent = badLogKey;
              return;
            }
            try {
              // Any route that needs a key tells whether this one is accepted.
              await new ConsoleApi(key).get('/v1/receipts?limit=1');
            } catch (error) {
              if (error instanceof ApiError && error.status === 401) {
                status.textContent = `The gateway refused this API key: ${error.message}`;
                return;
              }
              if (!(error instanceof ApiError && error.status === 403)) {
                status.textContent = describeError(error);
                return;
              }
            }
            sessionStorage.setItem(KEY, key);
            this.#start(key);
          },
        },
        el('h1', { id: 'login-title' }, 'OACP console'),
        el('label', { for: 'api-key' }, 'API key'),
        input,
        el(
          'p',
          { class: 'status' },
          'Kept in this tab’s session storage only. The console can do only what this key may do.',
        ),
        el('label', { for: 'log-key' }, 'Expected log key'),
        expected,
        el(
          'p',
          { class: 'status' },
          'Printed by `oacp log key` on the gateway’s host. Verify checks receipts against it and fails if the gateway serves another key; left empty, the key the gateway serves now is pinned for this tab.',
        ),
        el('button', { type: 'submit' }, 'Sign in'),
        status,
      ),
    );
    input.focus();
  }

  #start(key: string): void {
    const api = new ConsoleApi(key);
    this.#api = api;
    const keys = () => {
      this.#keys ??= loadKeys(api).catch((error: unknown) => {
        this.#keys = undefined;
        throw error;
      });
      return this.#keys;
    };
    this.#keys = undefined;
    const nav = el('nav', { 'aria-label': 'Console pages' });
    for (const [name, title] of Object.entries(PAGES) as [PageName, string][]) {
      const link = el('a', { href: `#${name}` }, title);
      this.#nav.set(name, link);
      nav.appendChild(link);
    }
    const notify = el(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          notify.textContent = `Notifications: ${await Notification.requestPermission()}`;
        },
      },
      `Notifications: ${'Notification' in window ? Notification.permission : 'unsupported'}`,
    );
    const signOut = el(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          sessionStorage.removeItem(KEY);
          window.clearInterval(this.#poll);
          this.#page?.close();
          this.#page = undefined;
          this.#login();
        },
      },
      'Sign out',
    );
    replace(
      this,
      el(
        'header',
        { class: 'top' },
        el('h1', {}, 'OACP console'),
        nav,
        el('div', { class: 'who' }, notify, signOut),
      ),
      this.#main,
    );
    this.#pages = { api, keys };
    this.#show();
    window.clearInterval(this.#poll);
    void this.#watchApprovals();
    this.#poll = window.setInterval(() => void this.#watchApprovals(), 3000);
  }

  #pages: { api: ConsoleApi; keys: () => Promise<PublicKeys> } | undefined;

  #show(): void {
    const parts = this.#pages;
    if (parts === undefined) return;
    const hash = location.hash.slice(1);
    const name: PageName = hash in PAGES ? (hash as PageName) : 'activity';
    this.#page?.close();
    const page: Page =
      name === 'activity'
        ? new ActivityPage(parts.api, parts.keys)
        : name === 'approvals'
          ? new ApprovalsPage(parts.api)
          : name === 'agents'
            ? new AgentsPage(parts.api)
            : name === 'security'
              ? new SecurityEventsPage(parts.api)
              : new LogHealthPage(parts.api, parts.keys);
    this.#page = page;
    for (const [other, link] of this.#nav) {
      if (other === name) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    replace(this.#main, page.element);
    document.title = `${PAGES[name]} · OACP console`;
  }

  /** A desktop notification for each call that starts waiting (once permission was given on a click). */
  async #watchApprovals(): Promise<void> {
    const api = this.#api;
    if (api === undefined) return;
    let pending: Pending[];
    try {
      pending = (await api.get<{ pending: Pending[] }>('/v1/approvals')).pending;
    } catch {
      return;
    }
    const link = this.#nav.get('approvals');
    if (link !== undefined)
      link.textContent = pending.length === 0 ? 'Approvals' : `Approvals (${pending.length})`;
    for (const item of pending) {
      if (this.#seen.has(item.id)) continue;
      this.#seen.add(item.id);
      if ('Notification' in window && Notification.permission === 'granted') {
        const note = new Notification('OACP: approval needed', {
          body: `${item.name} for ${item.request.agent.slice(0, 24)}…`,
          tag: item.id,
        });
        note.onclick = () => {
          window.focus();
          location.hash = '#approvals';
        };
      }
    }
  }
}
