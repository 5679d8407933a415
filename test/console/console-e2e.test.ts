import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/note-keys.js';
import { raw, type TestGateway } from '../gateway/service/harness.js';
import {
  CONSOLE_MANIFEST,
  type ConsoleGateway,
  ROOT,
  startBridge,
  startConsoleGateway,
} from './console-gateway.js';

const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');

/**
 * The operator console in a real browser (Debian's chromium driven by
 * playwright-core) against a real gateway with a real MCP server behind the
 * bridge. The console is the built one (dist/ui: `npm run build`).
 */
describe('the web console, end to end in chromium', () => {
  let started: ConsoleGateway;
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  let agent: { id: string; name: string };
  const consoleErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    started = await startConsoleGateway({
      prefix: 'oacp-console-e2e-',
      requireApproval: ['create_entities'],
      approvalTimeout: '30s',
      showArguments: ['*'],
    });
    gw = started.gw;
    const manifest = CONSOLE_MANIFEST;
    agent = await gw.client.createAgent({ name: 'console-worker', manifest });
    await gw.client.createAgent({ name: 'console-child', manifest, parent: agent.id });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    // Headless chromium shows no desktop notifications: record the ones the console raises.
    await context.addInitScript(`(() => {
      window.__notes = [];
      let permission = 'default';
      class Recorded { constructor(title, options) { window.__notes.push({ title, body: options && options.body }); } }
      Object.defineProperty(Recorded, 'permission', { get: () => permission });
      Recorded.requestPermission = async () => { permission = 'granted'; return permission; };
      window.Notification = Recorded;
    })()`);
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await started?.close();
  });

  it('serves /ui with a strict Content-Security-Policy and no inline code', async () => {
    const shell = await raw(gw.url, '/ui/');
    expect(shell.status).toBe(200);
    const csp = shell.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(shell.text).not.toMatch(/<script>|\sstyle=|\son[a-z]+=/);
    // Only the console's compiled modules are served, never the rest of dist/ or a path outside it.
    expect((await raw(gw.url, '/ui/console/web/main.js')).status).toBe(200);
    expect((await raw(gw.url, '/ui/console/verify/index.js')).status).toBe(200);
    expect((await raw(gw.url, '/ui/core/duplicate-key.js')).status).toBe(200);
    for (const path of [
      '/ui/console/web/main.js.map',
      '/ui/../cli/main.js',
      '/ui/console/web/%2e%2e/page.js',
      '/ui/gateway/gateway.js',
      '/ui/core/jcs.js',
      '/ui/web/main.js',
    ])
      expect((await raw(gw.url, path)).status, path).toBe(404);
  });

  it('logs in with an API key kept in session storage only, refusing a wrong one', async () => {
    await page.goto(new URL('/ui/', gw.url).href);
    await page.getByLabel('API key').fill('oacp_nope_nope');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused');
    await page.getByLabel('API key').fill(gw.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    // Runs in the page (a string, as the test compiles without the DOM library).
    const stored = (await page.evaluate(
      '({ session: Object.values(sessionStorage).join(" "), local: Object.values(localStorage).join(" "), cookie: document.cookie })',
    )) as { session: string; local: string; cookie: string };
    expect(stored.session).toContain(gw.adminKey);
    expect(stored.local + stored.cookie).not.toContain(gw.adminKey.slice(-20));
  });

  let index = -1;
  it('shows a receipt live after a tool call, and verifies it in the page', async () => {
    await page.locator('.vlist').waitFor();
    await gw.client.callTool('echo', { text: 'first' }, { agent: agent.id });
    const call = await gw.client.callTool('memory__read_graph', {}, { agent: agent.id });
    index = call.receipt.index;
    const row = page.locator(`.vrow[data-index="${index}"]`);
    await row.waitFor({ timeout: 10_000 });
    await shot('activity');
    await row.click();
    await page.getByRole('heading', { name: `Receipt #${index}` }).waitFor();
    // Published: the page also proves the receipt from the public tiles against the published checkpoint.
    await gw.gateway.node.log.sync();
    await page.getByRole('button', { name: 'Verify' }).click();
    const verdict = page.locator('[data-verdict]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-verdict')).toBe('pass');
    const checks = await page.locator('ol.checks li').allTextContents();
    expect(checks.join('\n')).toMatch(/signatures:.*verify/);
    expect(checks.join('\n')).toMatch(/log-checkpoint:.*signed by the log key/);
    expect(checks.join('\n')).toMatch(new RegExp(`log-inclusion:.*entry ${index} of`));
    expect(checks.join('\n')).toMatch(/published-inclusion:.*built here from the log's tiles/);
    await shot('receipt-verified');
  });

  it('fails Verify in the page for a receipt tampered on its way to the browser', async () => {
    await page.route(`**/v1/receipts/${index}`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const statement = JSON.parse(Buffer.from(body.envelope.payload, 'base64').toString('utf8'));
      statement.predicate.policy.effect = 'deny';
      body.envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      await route.fulfill({ response, json: body });
    });
    await page.locator(`.vrow[data-index="${index}"]`).click();
    await page.getByRole('button', { name: 'Verify' }).click();
    const verdict = page.locator('[data-verdict]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-verdict')).toBe('fail');
    expect(await page.locator('ol.checks li.fail').first().textContent()).toMatch(/signatures/);
    await shot('receipt-tampered');
    await page.unroute(`**/v1/receipts/${index}`);
  });

  it('fails Verify in the page when the public tiles do not prove the receipt', async () => {
    await page.route('**/v1/log/tile/**', async (route) => {
      const response = await route.fetch();
      const body = Buffer.from(await response.body());
      body[3] = (body[3] ?? 0) ^ 1;
      await route.fulfill({ response, body });
    });
    await page.locator(`.vrow[data-index="${index}"]`).click();
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('[data-verdict]').waitFor();
    expect(await page.locator('[data-verdict]').getAttribute('data-verdict')).toBe('fail');
    expect(await page.locator('ol.checks li.fail').allTextContents()).toEqual([
      expect.stringMatching(/published-inclusion: from the tiles/),
    ]);
    await page.unroute('**/v1/log/tile/**');
  });

  it('works from the keyboard: the list takes focus, arrows move, Enter opens; every field is labelled', async () => {
    // The console opened on Activity with no hash: the link's click builds a new page on
    // `hashchange`, a task after the click. Keys sent to the list it replaces are lost (a loaded CI
    // host met that: no receipt ever opened), so the list used is the one built after the click.
    const shown = page.getByRole('listbox', { name: 'Receipts, newest first' });
    if (await page.evaluate('location.hash !== "#activity"'))
      await shown.evaluate((element) => element.setAttribute('data-replaced', ''));
    await page.getByRole('link', { name: 'Activity' }).click();
    const list = page.locator('[role="listbox"][aria-label="Receipts, newest first"]:not([data-replaced])');
    await list.locator('.vrow').nth(1).waitFor();
    const first = await list.locator('.vrow').first().getAttribute('data-index');
    // The first row's receipt answers last (held until the second's is shown): its late answer
    // must not replace the selected receipt's panel.
    let releaseFirst = () => {};
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    await page.route(`**/v1/receipts/${first}`, async (route) => {
      await firstHeld;
      await route.continue();
    });
    await list.focus();
    await expect
      .poll(() => list.evaluate((element) => element === element.ownerDocument.activeElement))
      .toBe(true);
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const selected = list.locator('[aria-selected="true"]');
    await selected.waitFor();
    expect(await selected.count()).toBe(1);
    const second = await selected.getAttribute('data-index');
    expect(second).not.toBe(first);
    await page.getByRole('heading', { name: `Receipt #${second}` }).waitFor();
    await page.getByRole('button', { name: 'Verify' }).waitFor();
    const firstAnswered = page.waitForResponse((response) =>
      response.url().endsWith(`/v1/receipts/${first}`),
    );
    releaseFirst();
    await (await firstAnswered).finished();
    // Two frames after the late answer arrived: the panel still shows the selected receipt.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    expect(await page.getByRole('heading', { name: /^Receipt #\d+$/ }).allTextContents()).toEqual([
      `Receipt #${second}`,
    ]);
    await page.unroute(`**/v1/receipts/${first}`);
    // Each input and select is reachable by its label.
    const unlabelled = await page.evaluate(
      '[...document.querySelectorAll("input, select")].filter((e) => e.labels === null || e.labels.length === 0).length',
    );
    expect(unlabelled).toBe(0);
  });

  it('approves a pending call; the approver is the API key, and an agent cannot approve its own call', async () => {
    // Permission is asked on a click, not on load.
    await page.getByRole('button', { name: /^Notifications/ }).click();
    await expect
      .poll(() => page.getByRole('button', { name: /^Notifications/ }).textContent())
      .toContain('granted');
    const ownKey = (await gw.gateway.apiKeys.create({ scopes: ['approvals:decide'], agentId: agent.id })).key;
    const pendingCall = gw.client.callTool(
      'memory__create_entities',
      { entities: [{ name: 'bob', entityType: 'person', observations: ['approved in the console'] }] },
      { agent: agent.id },
    );
    await page.getByRole('link', { name: /Approvals/ }).click();
    const card = page.locator('article[data-approval]');
    await card.waitFor({ timeout: 10_000 });
    const id = (await card.getAttribute('data-approval')) ?? '';
    // The asking agent's own key (holding the scope) is refused.
    const self = await raw(gw.url, `/v1/approvals/${id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ approve: true }),
    });
    expect(self.status).toBe(403);
    expect(self.text).toContain('cannot approve its own call');
    await shot('approvals');
    await expect
      .poll(() => page.evaluate('window.__notes.map((n) => n.title + " " + n.body).join("\\n")'), {
        timeout: 8000,
      })
      .toContain('OACP: approval needed memory__create_entities');
    await card.getByLabel('Reason').fill('looks fine');
    await card.getByRole('button', { name: 'Approve' }).click();
    const done = await pendingCall;
    expect(done.isError).toBe(false);
    const bytes = await gw.gateway.node.log.entry(done.receipt.index);
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    const adminKeyId = gw.adminKey.split('_')[1];
    expect(statement.predicate.approval).toMatchObject({
      method: 'http',
      approvedBy: `http:api-key:${adminKeyId}`,
      reason: expect.stringContaining('looks fine'),
    });
  });

  it('shows the lineage and retires an agent after confirmation', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('button', { name: 'console-worker' }).click();
    await page.getByText('console-child').first().waitFor();
    await shot('agents');
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Retire' }).click();
    await page.locator('[data-state="retired"]').waitFor();
    expect(asked).toContain('retire agent console-worker');
    expect((await gw.client.getAgent(agent.id)).state).toBe('retired');
  });

  it('shows log health (checkpoint signature checked in the page) and security events', async () => {
    await page.getByRole('link', { name: 'Log health' }).click();
    await page.locator('[data-signed]').waitFor();
    expect(await page.locator('[data-signed]').getAttribute('data-signed')).toBe('true');
    await shot('log-health');
    await page.getByRole('link', { name: 'Security events' }).click();
    await page.getByRole('heading', { name: 'Latest denied calls' }).waitFor();
    await page.waitForTimeout(300);
    await shot('security-events');
    // The strict CSP held everything the pages did: no violation was reported all along.
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
  });

  it("approves a standalone bridge's pending call in the page, its hidden argument shown as hidden only", async () => {
    const bridge = await startBridge(
      gw.home,
      [
        '--name',
        'memory',
        '--require-approval',
        'create_entities',
        '--approval-timeout',
        '30s',
        '--allow-env',
        'MEMORY_FILE_PATH',
      ],
      { MEMORY_FILE_PATH: join(started.dir, 'bridge-memory.jsonl') },
    );
    try {
      const secret = 'bridge-SECRET-entity-9137';
      const call = bridge.client.callTool({
        name: 'create_entities',
        arguments: { entities: [{ name: secret, entityType: 'token', observations: [] }] },
      });
      await page.getByRole('link', { name: /Approvals/ }).click();
      const card = page.locator('article[data-approval]', { hasText: 'standalone bridge' });
      await card.waitFor({ timeout: 10_000 });
      expect(await card.locator('[data-hidden-arguments]').textContent()).toContain('entities');
      expect(await page.content()).not.toContain(secret);
      await shot('approvals-bridge');
      await card.getByLabel('Reason').fill('bridge call ok');
      await card.getByRole('button', { name: 'Approve' }).click();
      const result = await call;
      expect(result.isError).not.toBe(true);
      const index = (result._meta?.['oacp/receipt'] as { index?: number } | undefined)?.index ?? -1;
      await gw.gateway.node.log.refresh();
      const envelope = JSON.parse(Buffer.from(await gw.gateway.node.log.entry(index)).toString('utf8'));
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      expect(statement.predicate.approval).toMatchObject({
        method: 'http',
        approvedBy: `http:api-key:${gw.adminKey.split('_')[1]}`,
        reason: expect.stringContaining('bridge call ok'),
      });
    } finally {
      await bridge.close();
    }
  });

  const signInWith = async (logKey: string) => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(gw.adminKey);
    await page.getByLabel('Expected log key').fill(logKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const verifyReceipt = async () => {
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator(`.vrow[data-index="${index}"]`).click();
    await page.getByRole('button', { name: 'Verify' }).click();
    const verdict = page.locator('[data-verdict]');
    await verdict.waitFor();
    return verdict.getAttribute('data-verdict');
  };

  it('checks receipts against the log key the operator enters at login, failing on another', async () => {
    await signInWith('not a key');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Expected log key');
    const other = formatVerifierKey('oacp.test/gateway', SIG_TYPE_ED25519, new Uint8Array(32).fill(7));
    await page.getByLabel('Expected log key').fill(other);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await verifyReceipt()).toBe('fail');
    expect(await page.locator('ol.checks li.fail').first().textContent()).toMatch(
      /log-key: the gateway serves log key .* not the expected one entered at login/,
    );
    await shot('receipt-log-key-mismatch');
    await page.getByRole('link', { name: 'Log health' }).click();
    await page.locator('[data-log-key-match]').waitFor();
    expect(await page.locator('[data-log-key-match]').getAttribute('data-log-key-match')).toBe('false');

    await signInWith(gw.gateway.node.log.verifierKey);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await verifyReceipt()).toBe('pass');
    expect(await page.locator('ol.checks li.pass').first().textContent()).toContain(
      'log-key: the gateway serves the log key entered at login',
    );
  });
});
