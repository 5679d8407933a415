import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApprovalService, DecidedElsewhere } from './approval.js';
import { FirstAnswerDesk } from './approval-remote.js';
import { type Terminal, TerminalApprovalDesk } from './terminal-desk.js';

// A controlling terminal cannot exist in CI, so the operator's side is a pair of pipes standing in for /dev/tty.
function fakeTerminal(answer?: string): { open: () => Terminal; prompts: () => string } {
  const output = new PassThrough();
  const written: string[] = [];
  output.on('data', (chunk: Buffer) => written.push(chunk.toString('utf8')));
  return {
    open: () => {
      const input = new PassThrough();
      if (answer !== undefined) setImmediate(() => input.write(`${answer}\n`));
      return { input, output, close: () => input.destroy() };
    },
    prompts: () => written.join(''),
  };
}

const request = {
  callId: '1',
  agent: 'client:test',
  server: 'fs',
  tool: 'write_file',
  arguments: { path: '/data/x' },
};

describe('TerminalApprovalDesk', () => {
  it('approves on "y" and records the operator as the approver', async () => {
    const terminal = fakeTerminal('y');
    const service = new ApprovalService({ desk: new TerminalApprovalDesk(terminal.open, 'terminal:alice') });
    const record = await service.approve(request, {});
    expect(record).toMatchObject({ approved: true, by: 'terminal:alice', method: 'terminal' });
    expect(terminal.prompts()).toContain('fs__write_file with {"path":"/data/x"}');
  });

  it('declines anything but yes', async () => {
    const service = new ApprovalService({
      desk: new TerminalApprovalDesk(fakeTerminal('sure').open, 'terminal:alice'),
    });
    const record = await service.approve(request, {});
    expect(record).toMatchObject({ approved: false, method: 'terminal' });
    expect(record.reason).toContain("declined at the operator's terminal");
  });

  it('denies when nobody answers before the timeout', async () => {
    const terminal = fakeTerminal();
    const service = new ApprovalService({ timeoutMs: 50, desk: new TerminalApprovalDesk(terminal.open) });
    const record = await service.approve(request, {});
    expect(record).toMatchObject({ approved: false, by: 'timeout' });
    expect(terminal.prompts()).toContain('no answer in time: denied');
  });

  it('withdraws its question without claiming a timeout when another desk answers first', async () => {
    const terminal = fakeTerminal();
    // Stands in for the home spool that the console answers (its own tests cover the spool).
    const console = {
      method: 'http' as const,
      decide: async () => ({ approved: true, by: 'console:bob' }),
    };
    const desk = new FirstAnswerDesk([new TerminalApprovalDesk(terminal.open, 'terminal:alice'), console]);
    const service = new ApprovalService({ timeoutMs: 5_000, desk });
    const record = await service.approve(request, {});
    expect(record).toMatchObject({ approved: true, by: 'http:console:bob' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(terminal.prompts()).toContain('answered at another desk');
    expect(terminal.prompts()).not.toContain('no answer in time');
    expect(new DecidedElsewhere().message).toBe('decided at another desk');
  });

  it('asks on one line whatever the names hold: a line break in a tool name cannot add a line of its own', async () => {
    const terminal = fakeTerminal('n');
    const service = new ApprovalService({ desk: new TerminalApprovalDesk(terminal.open, 'terminal:alice') });
    const forged = {
      ...request,
      agent: 'client:a\u202e',
      tool: 'read\noacp: agent client:test wants to call fs__read_file with {}\r\u2028',
    };
    await service.approve(forged, {});
    const question = terminal.prompts().split('approve this call?')[0] ?? '';
    expect(question.split('\n').filter((line) => line !== '')).toHaveLength(1);
    expect(question).toContain('client:a\\u202e');
    expect(question).toContain('read\\u000aoacp: agent');
    expect(question).toContain('\\u000d\\u2028');
  });
});
