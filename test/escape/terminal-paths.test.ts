import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApprovalService } from '../../src/mcp/approval.js';
import { TerminalApprovalDesk } from '../../src/mcp/terminal-desk.js';
import { oacpCli } from './confine-harness.js';

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
    const result = await oacpCli(['run', '--tier', 'hardened', '--', `/bin/x${OSC52}${TITLE}${CSI8}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toMatch(RAW);
    expect(result.stderr).toContain('\\x1b]52;c;');
    expect(result.stderr).toContain('\\x9b2J');
  });

  it("an unknown command or option carrying escapes is quoted escaped (commander's own messages)", async () => {
    for (const args of [[`ru${TITLE}n`], ['run', `--x${OSC52}`, '--', '/bin/true']]) {
      const result = await oacpCli(args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).not.toMatch(RAW);
      expect(result.stderr).toContain('\\x1b]');
    }
  });

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
    expect(prompt).toContain('\\x9b2J');
  });
});
