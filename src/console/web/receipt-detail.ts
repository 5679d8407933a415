import { checkPublishedInclusion, fromBase64, verifyReceiptInBrowser } from '../verify/index.js';
import type { AuditEntry, ConsoleApi } from './api.js';
import { type Child, describeError, el, facts, replace } from './dom.js';
import type { PublicKeys } from './keys.js';

/** What GET /v1/receipts/:index answers (public): the logged envelope and its inclusion proof. */
interface LoggedReceipt {
  readonly index: number;
  readonly envelope: { readonly payload?: unknown };
  readonly proof: string;
  readonly logKey: string;
}

type Predicate = Record<string, unknown>;

/**
 * One receipt opened: who called what, the decision and why, tier, quota, timings, digests, and
 * Verify. The panel is given at once, saying it is loading, and filled when the receipt arrives:
 * the selection and the panel shown always agree, even when an earlier receipt's answer comes
 * last (arrows pressed faster than the gateway answers), since that answer fills a panel no
 * longer shown.
 */
export function receiptDetail(
  api: ConsoleApi,
  keys: () => Promise<PublicKeys>,
  entry: AuditEntry,
): HTMLElement {
  const panel = el('section', { class: 'panel', 'aria-label': `receipt ${entry.index}` });
  replace(panel, el('h3', {}, `Receipt #${entry.index}`), el('p', { class: 'status' }, 'Loading…'));
  fill(panel, api, keys, entry).catch((error: unknown) => {
    replace(
      panel,
      el('h3', {}, `Receipt #${entry.index}`),
      el('p', { class: 'error' }, describeError(error)),
    );
  });
  return panel;
}

async function fill(
  panel: HTMLElement,
  api: ConsoleApi,
  keys: () => Promise<PublicKeys>,
  entry: AuditEntry,
): Promise<void> {
  const logged = await api.get<LoggedReceipt>(`/v1/receipts/${entry.index}`);
  const statement = decodeStatement(logged.envelope.payload);
  const p = (statement?.predicate ?? {}) as Predicate;
  const policy = (p.policy ?? {}) as Predicate;
  const result = el('div', { 'aria-live': 'polite' });
  const verify = el(
    'button',
    {
      type: 'button',
      onclick: async () => {
        verify.disabled = true;
        replace(result, el('p', { class: 'status' }, 'Verifying in this browser (WebCrypto)…'));
        try {
          const pinned = await keys();
          const verdict = await verifyReceiptInBrowser({
            envelope: logged.envelope,
            proof: logged.proof,
            logKey: pinned.logKey,
            airlockKeys: pinned.airlockKeys,
            expectedIndex: entry.index,
          });
          const published = await checkPublishedInclusion({
            envelope: logged.envelope,
            index: entry.index,
            checkpoint: await api.text('/v1/log/checkpoint'),
            logKey: pinned.logKey,
            readTile: readTile,
          });
          const pin = {
            name: 'log-key',
            ok: pinned.mismatch === undefined,
            detail:
              pinned.mismatch ??
              (pinned.pinnedBy === 'operator'
                ? 'the gateway serves the log key entered at login'
                : 'the gateway serves the log key pinned on first use in this tab'),
          };
          const checks = [pin, ...verdict.checks, published];
          const ok = pin.ok && verdict.ok && published.ok;
          replace(
            result,
            el(
              'p',
              {
                class: `verdict ${ok ? 'pass' : 'fail'}`,
                'data-verdict': ok ? 'pass' : 'fail',
              },
              ok ? '✔ Verified in the browser' : '✘ Verification FAILED',
            ),
            el(
              'ol',
              { class: 'checks' },
              ...checks.map((check) =>
                el(
                  'li',
                  { class: check.ok ? 'pass' : 'fail' },
                  el('strong', {}, `${check.ok ? '✔' : '✘'} ${check.name}: `),
                  check.detail,
                ),
              ),
            ),
          );
        } catch (error) {
          replace(result, el('p', { class: 'error' }, `could not verify: ${describeError(error)}`));
        } finally {
          verify.disabled = false;
        }
      },
    },
    'Verify',
  );
  replace(
    panel,
    el('h3', {}, `Receipt #${entry.index}`),
    facts([
      ['Kind', entry.kind],
      ['Time', entry.time],
      ['Caller', entry.caller],
      ['Server', entry.server],
      ['Tool', entry.tool],
      [
        'Decision',
        entry.decision === undefined ? undefined : el('span', { class: entry.decision }, entry.decision),
      ],
      ['Reason', entry.reason],
      ['Policies', listOf(policy.policyIds) ?? entry.policyId],
      ['Policy digest', mono(policy.policyDigest)],
      ['Approval', approvalOf(p.approval)],
      ['Tier', entry.tier],
      ['Resource use', usageOf(p)],
      ['Quota', quotaOf(p)],
      ['Timings', timingsOf(p, entry)],
      ['Arguments digest', mono(p.argumentsDigest)],
      ['Result digest', mono(p.resultDigest)],
      ['Subject', subjectOf(statement?.subject)],
      ['Server check (gateway)', entry.verification],
    ]),
    el('div', { class: 'actions' }, verify),
    result,
    el(
      'details',
      {},
      el('summary', {}, 'Statement (decoded payload)'),
      el('pre', { class: 'json' }, JSON.stringify(statement, null, 2)),
    ),
  );
}

/** A public c2sp tile, fetched as is (no credentials needed). */
async function readTile(path: string): Promise<Uint8Array> {
  const response = await fetch(`/v1/log/${path}`);
  if (!response.ok) throw new Error(`tile ${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function decodeStatement(payload: unknown): { predicate?: unknown; subject?: unknown } | undefined {
  if (typeof payload !== 'string') return undefined;
  const bytes = fromBase64(payload);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as { predicate?: unknown; subject?: unknown };
  } catch {
    return undefined;
  }
}

function mono(value: unknown): Child {
  return typeof value === 'string' ? el('code', {}, value) : undefined;
}

function listOf(value: unknown): string | undefined {
  return Array.isArray(value) && value.length > 0 ? value.join(', ') : undefined;
}

function approvalOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const a = value as Predicate;
  const reason = typeof a.reason === 'string' ? ` (${a.reason})` : '';
  return `approved by ${String(a.approvedBy)} via ${String(a.method)} at ${String(a.approvedAt)}${reason}`;
}

function quotaOf(p: Predicate): string | undefined {
  const quota = p.quota as Predicate | undefined;
  return quota === undefined ? undefined : `${String(quota.effect)}: ${String(quota.reason)}`;
}

function usageOf(p: Predicate): string | undefined {
  const usage = p.usage as Predicate | undefined;
  if (usage === undefined) return undefined;
  return Object.entries(usage)
    .map(([name, value]) => `${name} ${typeof value === 'number' ? round(value) : String(value)}`)
    .join(', ');
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function timingsOf(p: Predicate, entry: AuditEntry): string | undefined {
  const parts: string[] = [];
  if (typeof p.startedAt === 'string') parts.push(`started ${p.startedAt}`);
  if (typeof p.finishedAt === 'string') parts.push(`finished ${p.finishedAt}`);
  if (entry.durationMs !== undefined) parts.push(`${round(entry.durationMs)} ms`);
  return parts.length === 0 ? undefined : parts.join(' · ');
}

function subjectOf(value: unknown): Child {
  if (!Array.isArray(value)) return undefined;
  return el(
    'ul',
    {},
    ...value.map((subject) => {
      const s = subject as { name?: unknown; digest?: Record<string, unknown> };
      const digest = Object.entries(s.digest ?? {})
        .map(([alg, hex]) => `${alg}:${String(hex)}`)
        .join(' ');
      return el('li', {}, `${String(s.name)} `, el('code', {}, digest));
    }),
  );
}
