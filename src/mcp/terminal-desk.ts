import { openSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ReadStream, WriteStream } from 'node:tty';
import { oneLine } from '../core/terminal-text.js';
import { type ApprovalDesk, type ApprovalRequest, DecidedElsewhere } from './approval.js';
import { qualifiedToolName } from './tool-names.js';

/** The operator's terminal: where prompts go and answers come from. */
export interface Terminal {
  readonly input: Readable;
  readonly output: Writable;
  close(): void;
}

/**
 * Approvals asked on the operator's terminal (`/dev/tty`), for stdio clients
 * that cannot elicit: the protocol owns stdin/stdout, the controlling terminal
 * does not. One question at a time; anything but "y" or "yes" is a decline,
 * and no answer before the call's timeout is a deny (the caller's signal).
 */
export class TerminalApprovalDesk implements ApprovalDesk {
  readonly method = 'terminal' as const;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly open: () => Terminal,
    private readonly operator = safeUser(),
  ) {}

  decide(request: ApprovalRequest, signal: AbortSignal): Promise<{ approved: boolean; by: string }> {
    const turn = this.#queue.then(() => this.#ask(request, signal));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  #ask(request: ApprovalRequest, signal: AbortSignal): Promise<{ approved: boolean; by: string }> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const terminal = this.open();
    const lines = createInterface({ input: terminal.input, terminal: false });
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        signal.removeEventListener('abort', onAbort);
        lines.close();
        terminal.close();
      };
      const onAbort = (): void => {
        terminal.output.write(
          signal.reason instanceof DecidedElsewhere
            ? '\n(answered at another desk: this question is withdrawn)\n'
            : '\n(no answer in time: denied)\n',
        );
        finish();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      lines.once('line', (answer) => {
        finish();
        resolve({ approved: /^\s*(y|yes)\s*$/i.test(answer), by: this.operator });
      });
      // Agent, server and tool names and the arguments are chosen by the caller and the server: a name
      // carrying a terminal escape (8-bit CSI survives JSON) or a line break must not redraw the question
      // being asked or add a line of its own under it.
      terminal.output.write(
        `oacp: agent ${oneLine(request.agent)} wants to call ${oneLine(qualifiedToolName(request.server, request.tool))} with ${oneLine(preview(request.arguments))}\n` +
          'approve this call? [y/N] ',
      );
    });
  }
}

/** The controlling terminal, or undefined when there is none (a service, CI). */
export function openControllingTerminal(): (() => Terminal) | undefined {
  try {
    openSync('/dev/tty', 'r+');
  } catch {
    return undefined;
  }
  return () => {
    const input = new ReadStream(openSync('/dev/tty', 'r'));
    const output = new WriteStream(openSync('/dev/tty', 'w'));
    return {
      input,
      output,
      close: () => {
        input.destroy();
        output.destroy();
      },
    };
  };
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function safeUser(): string {
  try {
    return `terminal:${userInfo().username}`;
  } catch {
    return 'terminal:operator';
  }
}
