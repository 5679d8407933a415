import type { ConsoleApi } from './api.js';
import { describeError, el, replace } from './dom.js';

export interface Pending {
  readonly id: string;
  readonly since: string;
  /** The tool as receipts and policies name it (`<server>__<tool>`), computed by the gateway. */
  readonly name: string;
  readonly request: {
    readonly callId: string;
    readonly agent: string;
    readonly server: string;
    readonly tool: string;
    /** Only the fields the server lets a person see (the gateway drops the rest). */
    readonly arguments: Record<string, unknown>;
  };
  /** `gateway`: a server the gateway bridges; `bridge`: a standalone `oacp mcp run` on its home. */
  readonly origin: 'gateway' | 'bridge';
  /** Fields whose values are withheld (approval_show_arguments). */
  readonly hiddenArguments: readonly string[];
}

/** Approvals: the gateway's calls waiting for an operator; approve or deny, with a reason. */
export class ApprovalsPage {
  readonly element: HTMLElement;
  readonly #body = el('div', {});
  readonly #status = el('p', { class: 'status', role: 'status' });
  #timer = 0;

  constructor(private readonly api: ConsoleApi) {
    this.element = el(
      'section',
      { 'aria-labelledby': 'approvals-title' },
      el('h2', { id: 'approvals-title' }, 'Approvals'),
      el(
        'p',
        {},
        'Calls to tools marked require_approval wait here, from this gateway and from standalone bridges on its home. Your API key is recorded as the approver in the call’s receipt.',
      ),
      this.#status,
      this.#body,
    );
    void this.refresh();
    this.#timer = window.setInterval(() => void this.refresh(), 2000);
  }

  close(): void {
    window.clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    let pending: Pending[];
    try {
      pending = (await this.api.get<{ pending: Pending[] }>('/v1/approvals')).pending;
    } catch (error) {
      this.#status.textContent = `Could not list approvals: ${describeError(error)}`;
      return;
    }
    // Do not rebuild under someone typing a reason.
    if (this.#body.contains(document.activeElement) && document.activeElement?.tagName === 'INPUT') return;
    this.#status.textContent =
      pending.length === 0 ? 'Nothing is waiting for approval.' : `${pending.length} call(s) waiting.`;
    replace(this.#body, ...pending.map((item) => this.#card(item)));
  }

  #card(item: Pending): HTMLElement {
    const reasonId = `reason-${item.id}`;
    const reason = el('input', {
      id: reasonId,
      name: 'reason',
      maxlength: 500,
      placeholder: 'why (recorded in the receipt)',
    });
    const result = el('p', { class: 'status', role: 'status' });
    const decide = async (approve: boolean) => {
      try {
        const answer = await this.api.post<{ approved: boolean; by: string }>(
          `/v1/approvals/${encodeURIComponent(item.id)}`,
          {
            approve,
            reason: reason.value,
          },
        );
        result.textContent = `${answer.approved ? 'Approved' : 'Denied'} as ${answer.by}.`;
        window.setTimeout(() => void this.refresh(), 300);
      } catch (error) {
        result.textContent = describeError(error);
        result.classList.add('error');
      }
    };
    return el(
      'article',
      {
        class: 'panel',
        'aria-label': `approval for ${item.request.server}.${item.request.tool}`,
        'data-approval': item.id,
      },
      el('h3', {}, item.name),
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, 'Agent'),
        el('dd', { class: 'mono' }, item.request.agent),
        el('dt', {}, 'Waiting since'),
        el('dd', {}, new Date(item.since).toLocaleString()),
        el('dt', {}, 'From'),
        el('dd', {}, item.origin === 'bridge' ? 'a standalone bridge (oacp mcp run)' : 'this gateway'),
        el('dt', {}, 'Arguments'),
        el('dd', {}, el('pre', { class: 'json' }, JSON.stringify(item.request.arguments, null, 2))),
        el('dt', {}, 'Hidden'),
        el(
          'dd',
          { 'data-hidden-arguments': '' },
          item.hiddenArguments.length === 0
            ? 'none'
            : `${item.hiddenArguments.join(', ')} (values withheld by the server's approval_show_arguments)`,
        ),
      ),
      el('label', { for: reasonId }, 'Reason'),
      reason,
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', onclick: () => void decide(true) }, 'Approve'),
        el('button', { type: 'button', class: 'danger', onclick: () => void decide(false) }, 'Deny'),
      ),
      result,
    );
  }
}
