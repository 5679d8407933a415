import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApprovalService } from '../../src/mcp/approval.js';
import { TerminalApprovalDesk } from '../../src/mcp/terminal-desk.js';
import { CLI, oacpCli } from './confine-harness.js';

/**
 * Issue 9, item 5 (terminal): every path by which text someone else chose
 * reaches the operator's terminal prints control characters escaped, not
 * only a workload's stderr: the CLI's error lines (which quote commands,
 * paths, option and server names) and the approval question on /dev/tty
 * (agent, server and tool names, arguments; 8-bit CSI survives JSON).
 */
const OSC52 = '\u001b]52;c;cm0gLXJmIH4K\u0007';
const TITLE = '\u001b]0;owned\u0007';
const CSI8 = '\u009b2J';
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point.
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('text on the operator terminal, beyond workload output', () => {
  it('a command name carrying OSC 52 and a title comes back escaped in the error line', async () => {
    const result = await oacpCli([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--',
      `/bin/x${OSC52}${TITLE}${CSI8}`,
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toMatch(RAW);
    expect(result.stderr).toContain('\\x1b]52;c;');
    expect(result.stderr).toContain('\\x9b2J');
  });

  it("an unknown command or option carrying escapes is quoted escaped (commander's own messages)", async () => {
    for (const args of [[`ru${TITLE}n`], ['run', '--no-receipt', `--x${OSC52}`, '--', '/bin/true']]) {
      const result = await oacpCli(args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).not.toMatch(RAW);
      expect(result.stderr).toContain('\\x1b]');
    }
  });

  it.skipIf(!existsSync('/usr/bin/script'))(
    "an agent's result printed on a terminal has no raw control character (JSON keeps U+009B, an 8-bit CSI)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oacp-tty-result-'));
      const agent = join(dir, 'agent.js');
      writeFileSync(agent, `(() => ({ csi: ${JSON.stringify(CSI8)}, osc: ${JSON.stringify(OSC52)} }))()`);
      // `script` gives the CLI a pseudo-terminal as stdout, as an operator's shell would.
      const shown = await new Promise<string>((resolve, reject) => {
        execFile(
          '/usr/bin/script',
          ['-q', '-e', '-c', `${process.execPath} ${CLI} run --no-receipt ${agent}`, '/dev/null'],
          { env: { PATH: '/usr/bin:/bin', HOME: dir, OACP_HOME: join(dir, 'home') }, timeout: 60_000 },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        );
      });
      expect(shown).toContain('\\x9b2J');
      expect(shown.replace(/\r\n/g, '\n')).not.toMatch(RAW);
      // In a pipe stdout stays byte-exact: the JSON as the agent returned it.
      const piped = await oacpCli(['run', '--no-receipt', agent], {
        env: { HOME: dir, OACP_HOME: join(dir, 'home') },
      });
      expect(JSON.parse(piped.stdout)).toEqual({ csi: CSI8, osc: OSC52 });
    },
  );

  it('the approval question shows agent, server, tool and arguments escaped', async () => {
    const output = new PassThrough();
    const written: Buffer[] = [];
    output.on('data', (chunk: Buffer) => written.push(chunk));
    const open = () => {
      const input = new PassThrough();
      setImmediate(() => input.write('n\n'));
      return { input, output, close: () => input.destroy() };
    };
    const service = new ApprovalService({ desk: new TerminalApprovalDesk(open, 'terminal:op') });
    await service.approve(
      {
        callId: '1',
        agent: `client${TITLE}`,
        server: `fs${CSI8}`,
        tool: `write${OSC52}`,
        arguments: { path: `/x${CSI8}` },
      },
      {},
    );
    const prompt = Buffer.concat(written).toString('utf8');
    expect(prompt).toContain('approve this call?');
    expect(prompt).not.toMatch(RAW);
    expect(prompt).toContain('\\u009b2J');
  });
});
