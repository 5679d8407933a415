import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentCard } from '@a2a-js/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { callA2aAgent, fetchAgentCard } from '../../src/a2a/client.js';
import { cardDestinationReason } from '../../src/a2a/peer-fetch.js';
import { startPlainServer } from './plain-server.js';

/**
 * A card is a peer's word: it must not steer OACP's A2A client where the caller did not point it.
 * A card URL that redirects to another origin is not followed, and a card from a public host that
 * names a loopback or metadata address as its interface is refused before anything is sent.
 */

async function listen(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    handler?.(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('where a card may send the A2A client', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  it('does not follow a card URL that redirects to another origin, and follows one within its origin', async () => {
    const elsewhere = await listen((_request, response) => {
      response.writeHead(404).end();
    });
    closers.push(elsewhere.close);
    const bouncer = await listen((request, response) => {
      if (request.url === '/moved/.well-known/agent-card.json') {
        response.writeHead(302, { location: '/.well-known/agent-card.json' }).end();
      } else if (request.url === '/.well-known/agent-card.json') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'kept' }));
      } else {
        response.writeHead(307, { location: `${elsewhere.url}/.well-known/agent-card.json` }).end();
      }
    });
    closers.push(bouncer.close);

    await expect(fetchAgentCard(`${bouncer.url}/away/`)).rejects.toMatchObject({
      code: 'A2A_CARD_FETCH_FAILED',
      message: expect.stringMatching(
        /redirects to another origin \(http:\/\/127\.0\.0\.1:\d+\); not followed/,
      ),
    });
    expect(elsewhere.hits).toEqual([]);

    const card = await fetchAgentCard(`${bouncer.url}/moved/`);
    expect(card.name).toBe('kept');
  });

  it('does not re-send a message to where the interface redirects it (a 307 to another origin)', async () => {
    const plain = await startPlainServer();
    closers.push(plain.close);
    const card = (await (await fetch(`${plain.url}/.well-known/agent-card.json`)).json()) as {
      supportedInterfaces: { url: string }[];
    };
    const bouncer = await listen((request, response) => {
      if (request.method === 'GET') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(card));
      } else {
        response.writeHead(307, { location: `${plain.url}/rpc` }).end();
      }
    });
    closers.push(bouncer.close);
    for (const entry of card.supportedInterfaces) entry.url = `${bouncer.url}/rpc`;
    await expect(callA2aAgent({ url: bouncer.url, text: 'secret' })).rejects.toMatchObject({
      code: 'A2A_SEND_FAILED',
      message: expect.stringMatching(/redirects to another origin/),
    });
    expect(bouncer.hits).toEqual(['GET /.well-known/agent-card.json', 'POST /rpc']);
  });

  it('refuses a card from a public host whose interface is on loopback or the metadata address: nothing is sent', async () => {
    const metadata = 'http://169.254.169.254/latest/rpc';
    for (const steer of ['loopback', 'metadata'] as const) {
      const plain = await startPlainServer((card: AgentCard) =>
        steer === 'loopback'
          ? card
          : {
              ...card,
              supportedInterfaces: [
                { url: metadata, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
              ],
            },
      );
      closers.push(plain.close);
      // agents.example.com is where the caller points; it serves the plain server's card (a DNS of one name).
      const requested: string[] = [];
      const routed: typeof fetch = (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        requested.push(`${url.origin}${url.pathname}`);
        if (url.hostname === '169.254.169.254') return Promise.reject(new Error('metadata reached'));
        if (url.hostname === 'agents.example.com') {
          return fetch(`${plain.url}${url.pathname}`, init);
        }
        return fetch(input, init);
      };
      await expect(
        callA2aAgent({ url: 'http://agents.example.com/', text: 'secret', fetch: routed }),
      ).rejects.toMatchObject({
        code: 'A2A_CARD_INVALID',
        message: expect.stringMatching(
          steer === 'loopback'
            ? /refusing to send: the card's interface url: 127\.0\.0\.1 is a loopback address, and the card came from agents\.example\.com/
            : /refusing to send: the card's interface url: 169\.254\.169\.254 is a link-local .*cloud metadata.*, and the card came from agents\.example\.com/,
        ),
      });
      expect(requested).toEqual(['http://agents.example.com/.well-known/agent-card.json']);
    }
  });

  it('still calls a card on loopback that names its own host, and one on a public host naming another public host', async () => {
    const plain = await startPlainServer();
    closers.push(plain.close);
    const result = await callA2aAgent({ url: plain.url, text: 'hello' });
    expect(result.state).toBe('completed');
    expect(cardDestinationReason('http://localhost:1/.well-known/agent-card.json', `${plain.url}/rpc`)).toBe(
      undefined,
    );
    expect(cardDestinationReason('https://cards.example.com/a.json', 'https://api.example.net/rpc')).toBe(
      undefined,
    );
    expect(cardDestinationReason('http://10.0.0.5/a.json', 'http://10.0.0.5:9000/rpc')).toBe(undefined);
    expect(cardDestinationReason('http://10.0.0.5/a.json', 'http://10.0.0.6/rpc')).toMatch(
      /10\.0\.0\.6 is a private \(RFC 1918\) address/,
    );
    expect(cardDestinationReason('https://cards.example.com/a.json', 'http://[::1]:8080/rpc')).toMatch(
      /loopback/,
    );
    // Spellings the URL parser turns into loopback or metadata addresses are judged as what they are.
    for (const spelled of ['http://2130706433/rpc', 'http://[::ffff:127.0.0.1]/rpc', 'http://0x7f.1/rpc']) {
      expect(cardDestinationReason('https://cards.example.com/a.json', spelled)).toMatch(/loopback/);
    }
    expect(
      cardDestinationReason('https://cards.example.com/a.json', 'http://metadata.google.internal/'),
    ).toMatch(/metadata name/);
    expect(cardDestinationReason('https://cards.example.com/a.json', 'file:///etc/passwd')).toMatch(
      /file: is not http\(s\)/,
    );
  });
});
