import { type AuditPage, type ConsoleApi, query } from './api.js';
import { describeError, el, facts, replace } from './dom.js';
import type { PublicKeys } from './keys.js';
import { checkpointHealth } from './log-checkpoint.js';

const SAMPLE_MS = 5000;
const MAX_SAMPLES = 120;

/** Log health: the latest published checkpoint (its signature checked here), cosignatures, size over time. */
export class LogHealthPage {
  readonly element: HTMLElement;
  readonly #checkpoint = el('div', {});
  readonly #chart = el('div', {});
  readonly #samples: { at: number; size: number }[] = [];
  #timer = 0;

  constructor(
    private readonly api: ConsoleApi,
    private readonly keys: () => Promise<PublicKeys>,
  ) {
    this.element = el(
      'section',
      { 'aria-labelledby': 'log-title' },
      el('h2', { id: 'log-title' }, 'Log health'),
      el(
        'div',
        { class: 'split' },
        el('div', { class: 'panel' }, el('h3', {}, 'Latest checkpoint'), this.#checkpoint),
        el('div', { class: 'panel' }, el('h3', {}, 'Size over time (this session)'), this.#chart),
      ),
    );
    void this.#sample();
    this.#timer = window.setInterval(() => void this.#sample(), SAMPLE_MS);
  }

  close(): void {
    window.clearInterval(this.#timer);
  }

  async #sample(): Promise<void> {
    try {
      const [note, keys] = await Promise.all([this.api.text('/v1/log/checkpoint'), this.keys()]);
      const health = await checkpointHealth(note, keys.logKey);
      this.#samples.push({ at: Date.now(), size: health.size ?? 0 });
      if (this.#samples.length > MAX_SAMPLES) this.#samples.shift();
      replace(
        this.#checkpoint,
        facts([
          ['Origin', health.origin],
          ['Tree size', health.size === undefined ? undefined : String(health.size)],
          ['Root hash', el('code', {}, health.root ?? '')],
          [
            'Log signature',
            el(
              'span',
              { class: health.signed ? 'allow' : 'deny', 'data-signed': String(health.signed) },
              health.signed ? '✔ valid (checked in this browser)' : '✘ not valid for the pinned log key',
            ),
          ],
          ['Cosignatures', health.cosigners.length === 0 ? 'none' : health.cosigners.join(', ')],
          ['Log key', el('code', {}, keys.logKey)],
          [
            'Log key pinned',
            el(
              'span',
              {
                class: keys.mismatch === undefined ? 'allow' : 'deny',
                'data-log-key-match': String(keys.mismatch === undefined),
              },
              keys.mismatch === undefined
                ? `✔ ${keys.pinnedBy === 'operator' ? 'as entered at login' : 'on first use in this tab'}`
                : `✘ ${keys.mismatch}`,
            ),
          ],
        ]),
        el('details', {}, el('summary', {}, 'Checkpoint note'), el('pre', { class: 'json' }, note)),
      );
      replace(this.#chart, sparkline(this.#samples));
    } catch (error) {
      replace(this.#checkpoint, el('p', { class: 'error' }, describeError(error)));
    }
  }
}

function sparkline(samples: readonly { at: number; size: number }[]): Element {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 400 120');
  svg.setAttribute('role', 'img');
  const first = samples[0];
  const last = samples[samples.length - 1];
  svg.setAttribute('aria-label', `log size from ${first?.size ?? 0} to ${last?.size ?? 0} entries`);
  const min = Math.min(...samples.map((s) => s.size));
  const max = Math.max(...samples.map((s) => s.size), min + 1);
  const points = samples.map(
    (s, i) =>
      `${(i / Math.max(1, samples.length - 1)) * 390 + 5},${115 - ((s.size - min) / (max - min)) * 105}`,
  );
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points.join(' '));
  svg.appendChild(line);
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('x', '8');
  label.setAttribute('y', '16');
  label.textContent = `${last?.size ?? 0} entries`;
  svg.appendChild(label);
  return svg;
}

/** Security events: the gateway's security counters (from /metrics) and the latest denied calls. */
export class SecurityEventsPage {
  readonly element: HTMLElement;
  readonly #counters = el('div', {});
  readonly #denied = el('div', {});

  constructor(private readonly api: ConsoleApi) {
    this.element = el(
      'section',
      { 'aria-labelledby': 'security-title' },
      el('h2', { id: 'security-title' }, 'Security events'),
      el(
        'div',
        { class: 'split' },
        el('div', { class: 'panel' }, el('h3', {}, 'Counters since the gateway started'), this.#counters),
        el('div', { class: 'panel' }, el('h3', {}, 'Latest denied calls'), this.#denied),
      ),
    );
    void this.refresh();
  }

  close(): void {}

  async refresh(): Promise<void> {
    try {
      const metrics = await this.api.text('/metrics');
      const rows = [...metrics.matchAll(/^oacp_security_events_total\{([^}]*)\} (\S+)$/gm)].map(
        ([, labels = '', value = '']) => {
          const get = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '';
          return el('tr', {}, el('td', {}, get('severity')), el('td', {}, get('type')), el('td', {}, value));
        },
      );
      replace(
        this.#counters,
        rows.length === 0
          ? 'No security events recorded.'
          : el(
              'table',
              { class: 'grid' },
              el(
                'thead',
                {},
                el('tr', {}, el('th', {}, 'severity'), el('th', {}, 'type'), el('th', {}, 'count')),
              ),
              el('tbody', {}, ...rows),
            ),
      );
    } catch (error) {
      replace(this.#counters, el('p', { class: 'error' }, describeError(error)));
    }
    try {
      const page = await this.api.get<AuditPage>(`/v1/receipts${query({ decision: 'deny', limit: 20 })}`);
      replace(
        this.#denied,
        page.entries.length === 0
          ? 'No denied calls in the newest part of the log.'
          : el(
              'table',
              { class: 'grid' },
              el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'tool'), el('th', {}, 'reason'))),
              el(
                'tbody',
                {},
                ...page.entries.map((entry) =>
                  el(
                    'tr',
                    {},
                    el('td', {}, String(entry.index)),
                    el('td', {}, entry.tool ?? entry.kind),
                    el('td', {}, entry.reason ?? ''),
                  ),
                ),
              ),
            ),
      );
    } catch (error) {
      replace(this.#denied, el('p', { class: 'error' }, describeError(error)));
    }
  }
}
