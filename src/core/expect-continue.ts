/** What of a Node `IncomingMessage` this needs (core names no network module). */
interface AnnouncedBody {
  on(event: 'newListener', listener: (event: string | symbol) => void): unknown;
  off(event: 'newListener', listener: (event: string | symbol) => void): unknown;
}

/** What of a Node `ServerResponse` this needs. */
interface PendingAnswer {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  setHeader(name: string, value: string): unknown;
  removeHeader(name: string): void;
  writeContinue(): void;
}

/**
 * `Expect: 100-continue` on an OACP listener (the gateway, the MCP bridge's
 * `--http`). Node answers 100 Continue at once unless the server handles
 * `checkContinue`, inviting a body the handler may never read: a request with
 * no credentials, a wrong Host, a declared length over the limit. Here the 100
 * goes out only when something starts reading the body; a request answered
 * without reading it gets its final answer alone, with `Connection: close`
 * (the client still holds the body it announced, so the connection cannot
 * carry another request).
 */
export function continueOnRead<Req extends AnnouncedBody, Res extends PendingAnswer>(
  server: {
    on(event: 'checkContinue' | 'checkExpectation', listener: (req: Req, res: Res) => void): unknown;
  },
  listener: (req: Req, res: Res) => void,
): void {
  // Any other expectation: Node would answer a bare 417 itself; the listener answers it instead,
  // in its own error shape (`unmetExpectation` says so), with `Connection: close` as above.
  server.on('checkExpectation', (req, res) => {
    res.setHeader('connection', 'close');
    listener(req, res);
  });
  server.on('checkContinue', (req, res) => {
    res.setHeader('connection', 'close');
    const onListener = (event: string | symbol) => {
      if (event !== 'data' && event !== 'readable') return;
      req.off('newListener', onListener);
      if (res.headersSent || res.writableEnded) return;
      res.removeHeader('connection');
      res.writeContinue();
    };
    req.on('newListener', onListener);
    listener(req, res);
  });
}

/**
 * The refusal's reason when `headers` carry an `Expect` other than
 * `100-continue` (RFC 9110 §10.1.1: the server answers 417), else undefined.
 * The value is not repeated: the caller chose it.
 */
export function unmetExpectation(headers: { readonly expect?: string | undefined }): string | undefined {
  const expect = headers.expect;
  if (expect === undefined || expect.trim().toLowerCase() === '100-continue') return undefined;
  return 'the Expect header can only be 100-continue';
}
