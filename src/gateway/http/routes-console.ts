import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_CSP, CONSOLE_CSS, CONSOLE_HTML } from '../../console/page.js';
import { encodeBase64 } from '../../log/base64.js';
import { httpError } from './errors.js';
import { open, type Route, route } from './route.js';
import type { GatewayServices } from './services.js';

const STATIC = open('the console is static code; every call it makes authenticates with the operator key');
const KEYS_ARE_PUBLIC = open('public keys, for verifying receipts and checkpoints offline or in a browser');

/** The compiled front end: src/ and dist/ are both three levels below the package root. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/**
 * Only what the console build compiled to dist/ui: the console's two folders and the core rules
 * its verifier shares with `oacp verify`; nothing else of dist/ is reachable.
 */
const SCRIPT = /^(console\/(web|verify)\/[a-z0-9-]{1,64}|core\/(duplicate-key|json-strings))\.js$/;

const HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/** The web console at /ui (docs/console.md) and the public keys its Verify button checks against. */
export function consoleRoutes(services: GatewayServices): Route[] {
  const dir = services.consoleDir ?? join(PACKAGE_ROOT, 'dist', 'ui');
  const page = (c: Parameters<Route['handler']>[0]) =>
    c.body(CONSOLE_HTML, 200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8' });
  return [
    route('GET', '/ui', STATIC, page),
    route('GET', '/ui/', STATIC, page),
    route('GET', '/ui/*', STATIC, async (c) => {
      const path = c.req.path.slice('/ui/'.length);
      if (path === 'console.css')
        return c.body(CONSOLE_CSS, 200, { ...HEADERS, 'content-type': 'text/css; charset=utf-8' });
      if (!SCRIPT.test(path)) throw httpError('NOT_FOUND', `no console file ${path}`);
      let code: string;
      try {
        code = await readFile(join(dir, path), 'utf8');
      } catch {
        throw httpError('NOT_FOUND', `no console file ${path} (is the package built? npm run build)`);
      }
      return c.body(code, 200, { ...HEADERS, 'content-type': 'text/javascript; charset=utf-8' });
    }),
    route('GET', '/v1/log/keys', KEYS_ARE_PUBLIC, (c) =>
      c.json({
        origin: services.origin,
        logKey: services.log.verifierKey,
        airlockKeys: (services.airlockKeys ?? []).map((key) => encodeBase64(key)),
      }),
    ),
  ];
}
