import { connect, type Socket } from 'node:net';

/**
 * Writes `request` as raw bytes to `url`'s host and port (no HTTP client in between, so framing
 * can be broken on purpose) and resolves with every byte answered, as latin1, once the server
 * closes, the socket fails, or `timeoutMs` pass without a byte (a server that waits for more has
 * not refused: our side closes). `onData` sees the answer so far, e.g. to send a held-back body.
 */
export function rawExchange(
  url: URL,
  request: string,
  options: {
    readonly timeoutMs?: number;
    readonly onData?: (answer: string, socket: Socket) => void;
    /** Called once `request` is written: to go on sending (a body that streams on). */
    readonly onConnect?: (socket: Socket) => void;
  } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      options.onData?.(answer, socket);
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
    socket.on('connect', () => {
      socket.write(request);
      options.onConnect?.(socket);
    });
    socket.setTimeout(options.timeoutMs ?? 3_000, () => socket.destroy());
  });
}
