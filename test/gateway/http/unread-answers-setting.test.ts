import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../src/gateway/config/load.js';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { UNREAD_CUT_LINES_PER_MINUTE } from '../../../src/mcp/unread-cut-log.js';
import { MANIFEST, raw } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

const MIB = 1024 * 1024;
const VALUE = 8 * MIB;
const CLIENTS = UNREAD_CUT_LINES_PER_MINUTE + 4;

/** Resolves once `check` holds, polling; fails past `timeoutMs` (generous: a loaded host is slow). */
async function until(check: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const cutLine = (line: string) =>
  line.includes('"level":"warn"') &&
  line.includes(
    'was cut and its connection closed: the gateway holds at most 1048576 bytes of answers its clients have not read (gateway.max_unread_answer_bytes)',
  );

describe('gateway.max_unread_answer_bytes', () => {
  it('refuses a value out of range or not a number, naming the field', () => {
    const parse = (value: unknown) => () =>
      parseGatewayConfig({ gateway: { max_unread_answer_bytes: value } }, '/tmp');
    expect(parse(1000)).toThrow(/gateway\.max_unread_answer_bytes.*must be at least 1048576 \(1 MiB\)/);
    expect(parse('64m')).toThrow(/gateway\.max_unread_answer_bytes.*expected a positive integer/);
    expect(parse(2 ** 40)).toThrow(/gateway\.max_unread_answer_bytes.*must be at most 17179869184/);
    expect(parseGatewayConfig({}, '/tmp').gateway.max_unread_answer_bytes).toBe(64 * MIB);
  });

  describe('a gateway with a 1 MiB bound', () => {
    const lines: string[] = [];
    const gw = useGateway({
      config: { gateway: { max_unread_answer_bytes: MIB, max_body_bytes: 16 * MIB } },
      logger: new Logger((line) => lines.push(line), 'warn'),
    });

    it(`attack: ${CLIENTS} clients each read an ${VALUE / MIB} MiB context value and never read the answer: each cut or read whole (the last answer held never cut), ${UNREAD_CUT_LINES_PER_MINUTE} lines name the setting, the rest one count, every cut in the metric`, async () => {
      const agent = await gw.client.createAgent({
        name: 'big',
        manifest: MANIFEST,
        code: 'function main() {}',
      });
      const auth = `Bearer ${gw.adminKey}`;
      // The value is stored before its answer, which echoes it: 8 MiB, itself over the bound, but the
      // only answer held, so never cut (the last answer held never is).
      const put = await raw(gw.url, `/v1/agents/${agent.id}/context/big`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'v'.repeat(VALUE) }),
      });
      expect(put.status).toBe(200);
      const url = new URL(gw.url);
      const closed = new Set<number>();
      const received = Array.from({ length: CLIENTS }, () => 0);
      const sockets: Socket[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const socket = connect(Number(url.port), url.hostname);
        socket.on('error', () => undefined);
        socket.on('close', () => closed.add(i));
        socket.on('data', (data: Buffer) => {
          received[i] = (received[i] ?? 0) + data.length;
        });
        socket.write(
          `GET /v1/agents/${agent.id}/context/big HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${auth}\r\n\r\n`,
        );
        // This client never reads what comes back.
        socket.pause();
        sockets.push(socket);
      }
      try {
        await until(() => lines.filter(cutLine).length >= UNREAD_CUT_LINES_PER_MINUTE, 'the cuts logged');
        for (const socket of sockets) socket.resume();
        // Each answer is cut (its connection closed before its end) or read whole: the last answer
        // held is never cut, and once the kernel's socket buffers took all of one, none is held here.
        await until(
          () => received.every((bytes, i) => bytes >= VALUE || closed.has(i)),
          'every answer cut or read whole',
        );
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      const metrics = await raw(gw.url, '/metrics', { headers: { authorization: auth } });
      const cuts = Number(/^oacp_http_unread_answers_cut_total (\d+)$/m.exec(metrics.text)?.[1]);
      // Every GET not read whole was cut, and only those; the PUT's echo, alone, was not.
      expect(cuts).toBe(received.filter((bytes) => bytes < VALUE).length);
      expect(cuts).toBeGreaterThanOrEqual(UNREAD_CUT_LINES_PER_MINUTE);
      const checked = spawnSync('/usr/bin/promtool', ['check', 'metrics'], {
        input: metrics.text,
        encoding: 'utf8',
      });
      expect(`${checked.stdout}${checked.stderr}`).not.toMatch(/oacp_http_unread_answers_cut_total/);
      expect(checked.status).toBe(0);
      await gw.close();
      expect(lines.filter(cutLine)).toHaveLength(UNREAD_CUT_LINES_PER_MINUTE);
      const summary = lines.find((line) =>
        line.includes(`${cuts - UNREAD_CUT_LINES_PER_MINUTE} more answer(s) unread by their clients cut`),
      );
      // Cuts past the limit (if any: some answers may have been read whole) are said once as a count.
      if (cuts > UNREAD_CUT_LINES_PER_MINUTE)
        expect(summary).toContain('gateway.max_unread_answer_bytes sets the bound');
    }, 180_000);
  });
});
