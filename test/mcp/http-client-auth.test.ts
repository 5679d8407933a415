import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { clientTokenDir } from '../../src/mcp/client-token.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { freshHome } from '../gateway/service/node-home.js';
import { type CliHttpBridge, MEMORY_SERVER, startCliHttpBridge } from './cli-http-bridge.js';
import {
  CLIENT_AUTHORIZATION,
  lightUpstream,
  SERVERS,
  TEST_CLIENT_TOKEN,
  type TestReceipts,
  testClient,
  testReceipts,
} from './helpers.js';

/**
 * Issue 10: `oacp mcp run --http` served any local process of any account, which then
 * called the server's tools with the grants the operator gave it. Every request but the
 * approval desk's now needs `Authorization: Bearer <token>`, checked on its headers
 * before its body is read (src/mcp/http-client-auth.ts); `--http-auth none` is the
 * explicit opt-out, loopback only. The official SDK client, real server-memory.
 */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const ACCEPT = 'application/json, text/event-stream';
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'intruder', version: '1' } },
});
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read_graph' } });

function post(url: URL, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body,
  });
}

/** Headers only, announcing a body of `length` bytes that never comes: the answer, as text. */
function headersOnly(url: URL, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer before the body: ${answer}`));
    }, 10_000);
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
    socket.write(
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nContent-Length: ${length}\r\n\r\n`,
    );
  });
}

describe('serveHttp: the client token', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;
  let served = 0;
  const refused: string[] = [];
  beforeAll(async () => {
    receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('memory', [SERVERS.memory]), receipts });
    const serve = bridge.serve.bind(bridge);
    bridge.serve = (transport) => {
      served++;
      return serve(transport);
    };
    http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: { token: TEST_CLIENT_TOKEN },
      onUnauthenticated: (_req, why) => refused.push(why),
    });
  });
  afterAll(async () => {
    await http?.close();
    await receipts?.close();
  });

  it('attack: initialize and tools/call without the token or with a wrong one: 401 Bearer, no session, no server started', async () => {
    const none = await post(http.url, INITIALIZE);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="oacp-mcp"');
    expect(none.headers.get('mcp-session-id')).toBeNull();
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain(
      'Authorization: Bearer <token>',
    );
    for (const wrong of [
      `Bearer ${TEST_CLIENT_TOKEN.slice(0, -1)}x`,
      `Bearer ${TEST_CLIENT_TOKEN}x`,
      `Bearer${TEST_CLIENT_TOKEN}`,
      `Basic ${Buffer.from(`a:${TEST_CLIENT_TOKEN}`).toString('base64')}`,
      `Bearer ${TEST_CLIENT_TOKEN} x`,
    ]) {
      for (const body of [INITIALIZE, CALL]) {
        const answer = await post(http.url, body, { authorization: wrong });
        expect(answer.status, wrong).toBe(401);
        expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="oacp-mcp", error="invalid_token"');
        await answer.text();
      }
    }
    // The legacy SSE front and the receipts are the clients' too.
    expect((await fetch(http.sseUrl, { headers: { accept: 'text/event-stream' } })).status).toBe(401);
    expect((await post(new URL('/messages?sessionId=x', http.url), CALL)).status).toBe(401);
    expect((await fetch(new URL('/oacp/receipts/0', http.url))).status).toBe(401);
    expect(served).toBe(0);
    expect(refused.length).toBe(14);
    expect(refused[0]).toBe('no Authorization header');
    expect(refused[1]).toBe('a wrong or malformed token');
    await expect(testClient().connect(new StreamableHTTPClientTransport(http.url))).rejects.toThrow(
      /401|Unauthorized/,
    );
    await expect(
      testClient().connect(
        new StreamableHTTPClientTransport(http.url, {
          requestInit: { headers: { authorization: 'Bearer nope' } },
        }),
      ),
    ).rejects.toThrow(/401|Unauthorized/);
    await expect(testClient().connect(new SSEClientTransport(http.sseUrl))).rejects.toThrow();
    expect(served).toBe(0);
  });

  it('attack: a body announced at 10 MB never sent is answered 401 from the headers alone, the connection closed', async () => {
    const answer = await headersOnly(http.url, 10_000_000);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(served).toBe(0);
  });

  it('the SDK client with the token (requestInit.headers, or an authProvider) calls tools', async () => {
    const client = testClient();
    await client.connect(
      new StreamableHTTPClientTransport(http.url, { requestInit: { headers: CLIENT_AUTHORIZATION } }),
    );
    try {
      const result = await client.callTool({ name: 'read_graph', arguments: {} });
      expect(result.isError).not.toBe(true);
    } finally {
      await client.close();
    }
    const provider: OAuthClientProvider = {
      redirectUrl: undefined,
      clientMetadata: { redirect_uris: [] },
      clientInformation: () => undefined,
      tokens: () => ({ access_token: TEST_CLIENT_TOKEN, token_type: 'Bearer' }),
      saveTokens: () => undefined,
      redirectToAuthorization: () => undefined,
      saveCodeVerifier: () => undefined,
      codeVerifier: () => '',
    };
    const viaProvider = testClient();
    await viaProvider.connect(new StreamableHTTPClientTransport(http.url, { authProvider: provider }));
    try {
      expect((await viaProvider.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await viaProvider.close();
    }
    const legacy = testClient();
    await legacy.connect(
      new SSEClientTransport(http.sseUrl, {
        eventSourceInit: {
          fetch: (url, init) =>
            fetch(url, { ...init, headers: { ...init?.headers, ...CLIENT_AUTHORIZATION } }),
        },
        requestInit: { headers: CLIENT_AUTHORIZATION },
      }),
    );
    try {
      expect((await legacy.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await legacy.close();
    }
  });

  it("refuses 'none' on an address beyond loopback", async () => {
    const bridge = createBridge({ upstream: lightUpstream('memory', [SERVERS.memory]), receipts });
    await expect(serveHttp(bridge, { host: '0.0.0.0', port: 0, clientAuth: 'none' })).rejects.toThrow(
      /--http-auth none: 0\.0\.0\.0 is not a loopback address/,
    );
    await bridge.close();
  });
});

const run = promisify(execFile);

/** `oacp mcp run` that must refuse to start: its exit code and stderr. */
async function refusedStart(home: { home: string; env: Record<string, string> }, args: string[]) {
  try {
    await run(
      process.execPath,
      [
        CLI,
        '--home',
        home.home,
        'mcp',
        'run',
        '--tier',
        'light',
        ...args,
        '--',
        process.execPath,
        MEMORY_SERVER,
      ],
      {
        env: { PATH: process.env.PATH ?? '', ...home.env },
        timeout: 60_000,
      },
    );
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code, stderr: failed.stderr ?? '' };
  }
  return { code: 0, stderr: '' };
}

const root = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

describe('oacp mcp run --http: client authentication (the real CLI)', () => {
  let bridge: CliHttpBridge;
  let scratch: string;
  beforeAll(async () => {
    bridge = await startCliHttpBridge('oacp-client-auth-');
    scratch = mkdtempSync(join(tmpdir(), 'oacp-client-auth-'));
    chmodSync(scratch, 0o755);
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('makes a token in a 0600 file of the home, names the file, never prints the token', () => {
    const dir = clientTokenDir(bridge.home);
    const [file] = readdirSync(dir);
    expect(statSync(join(dir, file ?? '')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(bridge.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bridge.stderr()).toContain(`Bearer $(cat ${join(dir, file ?? '')})`);
    expect(bridge.stderr()).not.toContain(bridge.token);
  });

  it.runIf(root)(
    'attack: uid 1000 without the token is refused by a root-run bridge (and cannot read the token file); with it, it is served',
    async () => {
      const home1000 = join(scratch, 'home1000');
      mkdirSync(home1000);
      spawnSync('chown', ['1000:1000', home1000]);
      const require = createRequire(import.meta.url);
      const script = join(scratch, 'client.cjs');
      writeFileSync(
        script,
        `const { Client } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/client/index.js'))});
const { StreamableHTTPClientTransport } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/client/streamableHttp.js'))});
const fs = require('node:fs');
(async () => {
  try { fs.readFileSync(process.argv[3]); console.log('read the token file'); } catch (e) { console.log('token file: ' + e.code); }
  const token = process.env.CLIENT_TOKEN;
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  const client = new Client({ name: 'uid1000', version: '1' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(process.argv[2]), { requestInit: { headers } }));
    const result = await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'x', entityType: 't', observations: [] }] } });
    console.log('called: ' + (result.isError ? 'error' : 'ok'));
    await client.close();
  } catch (e) { console.log('refused: ' + e.message); }
})();
`,
      );
      chmodSync(script, 0o644);
      const tokenFile = join(clientTokenDir(bridge.home), readdirSync(clientTokenDir(bridge.home))[0] ?? '');
      const as1000 = (env: Record<string, string>) =>
        spawnSync(
          'setpriv',
          [
            '--reuid',
            '1000',
            '--regid',
            '1000',
            '--clear-groups',
            'env',
            `HOME=${home1000}`,
            `PATH=${process.env.PATH ?? ''}`,
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            process.execPath,
            script,
            bridge.url.href,
            tokenFile,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
      const without = as1000({});
      expect(without.stdout, without.stderr).toContain('token file: EACCES');
      expect(without.stdout).toMatch(/refused: .*(401|Unauthorized)/);
      expect(without.stdout).not.toContain('called:');
      const wrong = as1000({ CLIENT_TOKEN: 'A'.repeat(43) });
      expect(wrong.stdout).toMatch(/refused: .*(401|Unauthorized)/);
      const given = as1000({ CLIENT_TOKEN: bridge.token ?? '' });
      expect(given.stdout, given.stderr).toContain('called: ok');
    },
    120_000,
  );

  it('attack: 300 requests without the token leave a bounded log, every one counted in the closing summary; the file is removed', async () => {
    const before = bridge.stderr().split('\n').length;
    for (let i = 0; i < 300; i++) {
      const answer = await post(bridge.url, CALL, i % 2 === 0 ? {} : { authorization: 'Bearer wrong' });
      expect(answer.status).toBe(401);
      await answer.text();
    }
    const client = testClient();
    await client.connect(
      new StreamableHTTPClientTransport(bridge.url, { requestInit: { headers: bridge.headers } }),
    );
    expect((await client.callTool({ name: 'read_graph', arguments: {} })).isError).not.toBe(true);
    await client.close();
    const lines = bridge
      .stderr()
      .split('\n')
      .slice(before - 1);
    expect(
      lines.filter((line) => line.includes('(401; the client token is needed')).length,
    ).toBeLessThanOrEqual(12);
    await bridge.stop();
    // The uid 1000 attempts were refused too: at least the 300 are counted.
    const counted = /oacp: (\d+) requests refused for want of the client token while the bridge ran/.exec(
      bridge.stderr(),
    );
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(300);
    expect(readdirSync(clientTokenDir(bridge.home))).toEqual([]);
  }, 120_000);
});

describe('oacp mcp run --http-token-file and --http-auth none', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  beforeAll(async () => {
    home = await freshHome('oacp-client-auth-flags-');
  });
  afterAll(() => home?.remove());

  it('refuses a token file group or other may read, a short token, a symlink; and none beyond loopback; each naming its flag', async () => {
    const file = join(home.home, 'client.token');
    writeFileSync(file, `${'t'.repeat(40)}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    const open = await refusedStart(home, ['--http', '127.0.0.1:0', '--http-token-file', file]);
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain(`--http-token-file ${file}: its mode is 0644`);
    expect(open.stderr).not.toContain('t'.repeat(40));
    writeFileSync(join(home.home, 'short.token'), 'short\n', { mode: 0o600 });
    const short = await refusedStart(home, [
      '--http',
      '127.0.0.1:0',
      '--http-token-file',
      join(home.home, 'short.token'),
    ]);
    expect(short.stderr).toMatch(/--http-token-file \S+: must hold one token of 32 to 512 characters/);
    const link = join(home.home, 'link.token');
    writeFileSync(join(home.home, 'real.token'), `${'r'.repeat(40)}\n`, { mode: 0o600 });
    symlinkSync(join(home.home, 'real.token'), link);
    const linked = await refusedStart(home, ['--http', '127.0.0.1:0', '--http-token-file', link]);
    expect(linked.stderr).toContain(`--http-token-file ${link}: is a symbolic link`);
    const none = await refusedStart(home, ['--http', '0.0.0.0:0', '--http-auth', 'none']);
    expect(none.stderr).toContain('--http-auth none: 0.0.0.0 is not a loopback address');
    const both = await refusedStart(home, [
      '--http',
      '127.0.0.1:0',
      '--http-auth',
      'none',
      '--http-token-file',
      file,
    ]);
    expect(both.stderr).toContain('--http-token-file');
    const stdio = await refusedStart(home, ['--http-auth', 'none']);
    expect(stdio.stderr).toContain('--http-auth none: --http-auth needs --http HOST:PORT');
    expect(existsSync(clientTokenDir(home.home))).toBe(false);
  }, 120_000);
});

describe('oacp mcp run --http-token-file FILE (0600)', () => {
  let bridge: CliHttpBridge;
  let token: string;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-token-file-'));
    token = 'operator-chosen-token-0123456789abcdefghij';
    writeFileSync(join(dir, 'client.token'), `${token}\n`, { mode: 0o600 });
    bridge = await startCliHttpBridge('oacp-token-file-', ['--http-token-file', join(dir, 'client.token')]);
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a client sending the file's token, refuses one without; writes no token of its own", async () => {
    expect((await post(bridge.url, INITIALIZE)).status).toBe(401);
    const client = testClient();
    await client.connect(
      new StreamableHTTPClientTransport(bridge.url, {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    expect((await client.callTool({ name: 'read_graph', arguments: {} })).isError).not.toBe(true);
    await client.close();
    expect(bridge.stderr()).toContain(
      `MCP clients need Authorization: Bearer <the token in ${join(dir, 'client.token')}>`,
    );
    expect(bridge.stderr()).not.toContain(token);
    expect(existsSync(clientTokenDir(bridge.home))).toBe(false);
  });
});

describe('oacp mcp run --http 127.0.0.1:0 --http-auth none', () => {
  let bridge: CliHttpBridge;
  beforeAll(async () => {
    bridge = await startCliHttpBridge('oacp-auth-none-', ['--http-auth', 'none']);
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('says the bridge is open to every local user, and serves a client without a token', async () => {
    expect(bridge.stderr()).toContain('--http-auth none: the bridge is open to every local user');
    const client = testClient();
    await client.connect(new StreamableHTTPClientTransport(bridge.url));
    expect((await client.callTool({ name: 'read_graph', arguments: {} })).isError).not.toBe(true);
    await client.close();
  });
});
