import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

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
export function continueOnRead(server: Server, listener: RequestListener): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
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
