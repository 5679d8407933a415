import { type AuditPage, type ConsoleApi, query } from './api.js';
import { describeError, el, facts, replace } from './dom.js';

interface Agent {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly runtime: { readonly status: string; readonly failure?: string };
  readonly manifest: unknown;
  readonly parentId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const ACTIONS = ['start', 'suspend', 'resume', 'retire'] as const;

/** Agents: lifecycle, lineage tree, manifest, quotas used and left, recent runs; transitions with confirmation. */
export class AgentsPage {
  readonly element: HTMLElement;
  readonly #tree = el('nav', { 'aria-label': 'Agent lineage' });
  readonly #detail = el('div', { 'aria-live': 'polite' });
  readonly #status = el('p', { class: 'status', role: 'status' });
  #agents: Agent[] = [];

  constructor(private readonly api: ConsoleApi) {
    this.element = el(
      'section',
      { 'aria-labelledby': 'agents-title' },
      el('h2', { id: 'agents-title' }, 'Agents'),
      this.#status,
      el(
        'div',
        { class: 'split' },
        el('div', { class: 'panel' }, el('h3', {}, 'Lineage'), this.#tree),
        this.#detail,
      ),
    );
    void this.refresh();
  }

  close(): void {}

  async refresh(selected?: string): Promise<void> {
    try {
      this.#agents = (await this.api.get<{ agents: Agent[] }>('/v1/agents')).agents;
    } catch (error) {
      this.#status.textContent = `Could not list agents: ${describeError(error)}`;
      return;
    }
    this.#status.textContent = `${this.#agents.length} agent(s).`;
    const ids = new Set(this.#agents.map((agent) => agent.id));
    const roots = this.#agents.filter((agent) => agent.parentId === null || !ids.has(agent.parentId));
    replace(this.#tree, this.#branch(roots, true));
    const open = this.#agents.find((agent) => agent.id === selected);
    if (open !== undefined) await this.#open(open);
  }

  #branch(agents: readonly Agent[], root = false): HTMLElement {
    return el(
      'ul',
      { class: root ? 'tree root' : 'tree' },
      ...agents.map((agent) => {
        const children = this.#agents.filter((child) => child.parentId === agent.id);
        return el(
          'li',
          {},
          el('button', { type: 'button', class: 'link', onclick: () => void this.#open(agent) }, agent.name),
          ' ',
          el('span', { class: 'badge' }, agent.state),
          children.length === 0 ? null : this.#branch(children),
        );
      }),
    );
  }

  async #open(agent: Agent): Promise<void> {
    const parent = this.#agents.find((other) => other.id === agent.parentId);
    const children = this.#agents.filter((child) => child.parentId === agent.id);
    const quota = el('div', {}, 'Loading quota…');
    const runs = el('div', {}, 'Loading recent runs…');
    const result = el('p', { class: 'status', role: 'status' });
    replace(
      this.#detail,
      el(
        'section',
        { class: 'panel', 'aria-label': `agent ${agent.name}` },
        el('h3', {}, agent.name),
        facts([
          ['State', el('span', { class: 'badge', 'data-state': agent.state }, agent.state)],
          [
            'Runtime',
            `${agent.runtime.status}${agent.runtime.failure === undefined ? '' : ` (${agent.runtime.failure})`}`,
          ],
          ['Identity', el('code', {}, agent.id)],
          ['Parent', parent?.name ?? (agent.parentId === null ? 'none (root)' : agent.parentId)],
          ['Children', children.map((child) => child.name).join(', ') || 'none'],
          ['Created', agent.createdAt],
          ['Updated', agent.updatedAt],
        ]),
        el(
          'div',
          { class: 'actions', role: 'group', 'aria-label': 'Lifecycle' },
          ...ACTIONS.map((action) =>
            el(
              'button',
              {
                type: 'button',
                class: action === 'retire' ? 'danger' : 'secondary',
                onclick: () => void this.#transition(agent, action, result),
              },
              action[0]?.toUpperCase() + action.slice(1),
            ),
          ),
        ),
        result,
        el('h3', {}, 'Quotas'),
        quota,
        el('h3', {}, 'Recent runs'),
        runs,
        el(
          'details',
          {},
          el('summary', {}, 'Manifest'),
          el('pre', { class: 'json' }, JSON.stringify(agent.manifest, null, 2)),
        ),
      ),
    );
    this.api
      .get<Record<string, unknown>>(`/v1/agents/${encodeURIComponent(agent.id)}/quota`)
      .then((usage) => replace(quota, quotaTable(usage)))
      .catch((error: unknown) => replace(quota, describeError(error)));
    this.api
      .get<AuditPage>(`/v1/receipts${query({ agent: agent.id, limit: 10 })}`)
      .then((page) =>
        replace(
          runs,
          page.entries.length === 0
            ? 'No receipts for this agent in the newest part of the log.'
            : el(
                'table',
                { class: 'grid' },
                el(
                  'thead',
                  {},
                  el(
                    'tr',
                    {},
                    el('th', {}, '#'),
                    el('th', {}, 'time'),
                    el('th', {}, 'tool'),
                    el('th', {}, 'decision'),
                  ),
                ),
                el(
                  'tbody',
                  {},
                  ...page.entries.map((entry) =>
                    el(
                      'tr',
                      {},
                      el('td', {}, String(entry.index)),
                      el('td', {}, entry.time ?? ''),
                      el('td', {}, entry.tool ?? entry.kind),
                      el('td', { class: entry.decision ?? '' }, entry.decision ?? ''),
                    ),
                  ),
                ),
              ),
        ),
      )
      .catch((error: unknown) => replace(runs, describeError(error)));
  }

  async #transition(agent: Agent, action: (typeof ACTIONS)[number], result: HTMLElement): Promise<void> {
    const warning = action === 'retire' ? ' Retiring is final and retires its descendants too.' : '';
    if (!window.confirm(`${action} agent ${agent.name}?${warning}`)) {
      result.textContent = `Not done: ${action} was cancelled.`;
      return;
    }
    try {
      const next = await this.api.post<Agent>(`/v1/agents/${encodeURIComponent(agent.id)}/${action}`, {});
      result.textContent = `${agent.name} is now ${next.state}.`;
      await this.refresh(agent.id);
    } catch (error) {
      result.textContent = describeError(error);
      result.classList.add('error');
    }
  }
}

/** Quotas as a table: each limit with what is used and what is left. */
function quotaTable(usage: Record<string, unknown>): HTMLElement {
  const rows: HTMLElement[] = [];
  for (const [name, value] of Object.entries(usage)) {
    if (name === 'agent') continue;
    if (typeof value === 'object' && value !== null) {
      for (const [limit, raw] of Object.entries(value as Record<string, unknown>)) {
        const q = (raw ?? {}) as Record<string, unknown>;
        rows.push(
          el(
            'tr',
            {},
            el('td', {}, limit),
            el('td', {}, String(q.limit ?? '')),
            el('td', {}, String(q.used ?? '')),
            el('td', {}, String(q.available ?? q.left ?? '')),
            el('td', {}, String(q.refused ?? '')),
          ),
        );
      }
    } else
      rows.push(
        el(
          'tr',
          {},
          el('td', {}, name),
          el('td', {}, ''),
          el('td', {}, String(value)),
          el('td', {}, ''),
          el('td', {}, ''),
        ),
      );
  }
  return el(
    'table',
    { class: 'grid' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'quota'),
        el('th', {}, 'limit'),
        el('th', {}, 'used'),
        el('th', {}, 'left'),
        el('th', {}, 'refused'),
      ),
    ),
    el('tbody', {}, ...rows),
  );
}
