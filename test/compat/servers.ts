import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const NODE_MODULES = join(import.meta.dirname, '..', '..', 'node_modules');

/** The script a package's `bin` names, resolved in this project's node_modules. */
function binOf(pkg: string, name?: string): string {
  const manifestPath = join(NODE_MODULES, pkg, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: string | Record<string, string> };
  const bin =
    typeof manifest.bin === 'string'
      ? manifest.bin
      : manifest.bin[name ?? Object.keys(manifest.bin)[0] ?? ''];
  if (bin === undefined) throw new Error(`${pkg} has no bin ${name ?? ''}`);
  return join(dirname(manifestPath), bin);
}

/** One real npm MCP server: how to start it, and one call without side effects outside its grant. */
export interface CompatServer {
  readonly name: string;
  readonly script: string;
  /**
   * Run `script` itself as the program (its `#!` line picks the interpreter),
   * as a bin name on PATH or `./node_modules/.bin/NAME` is run, instead of
   * `node script`.
   */
  readonly direct?: boolean;
  /** Arguments after the script; `grant` is the private temp directory granted read-write. */
  readonly args: (grant: string) => string[];
  /** A tool the server must list. */
  readonly lists: string;
  readonly call: { readonly name: string; readonly arguments: (grant: string) => Record<string, unknown> };
  /**
   * What the call's text must match. Servers whose every tool needs the
   * network or a browser are only asked to answer (an isError result is an
   * answer; the sandbox has no route out), which still proves the call
   * crossed the bridge and the server stayed up.
   */
  readonly answer: RegExp | 'answered';
  /**
   * Dummy credentials the server insists on at start-up (never real ones):
   * set in OACP's environment and passed through by name with --allow-env.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Like `env`, for values that name a file in the grant (a credentials file the server reads). */
  readonly grantEnv?: (grant: string) => Readonly<Record<string, string>>;
  /** Files written into the grant before the start: project files the server reads (a lint config). */
  readonly files?: Readonly<Record<string, string>>;
  /** `oacp mcp run` flags the server needs beyond its grant (`--allow-unix-sockets`). */
  readonly flags?: readonly string[];
}

/** The environment a server is started with: its dummy credentials, and those naming grant files. */
export function serverEnv(server: CompatServer, grant: string): Record<string, string> {
  return { ...server.env, ...server.grantEnv?.(grant) };
}

/**
 * What a tool that calls its service answers in a sandbox with no route out
 * (no network allowlist): the tool's own code ran, reached for the network
 * and was told no. Not a generic error: the bridge crossed and the server's
 * handler executed.
 */
const NO_ROUTE = /fetch failed|getaddrinfo|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH/;

/** Ten popular servers that start without network or credentials, beyond the three in test/mcp. */
export const COMPAT_SERVERS: readonly CompatServer[] = [
  {
    name: 'sequential-thinking',
    script: binOf('@modelcontextprotocol/server-sequential-thinking'),
    args: () => [],
    lists: 'sequentialthinking',
    call: {
      name: 'sequentialthinking',
      arguments: () => ({
        thought: 'one step',
        thoughtNumber: 1,
        totalThoughts: 1,
        nextThoughtNeeded: false,
      }),
    },
    answer: /thoughtNumber/,
  },
  {
    name: 'playwright',
    script: binOf('@playwright/mcp'),
    args: (grant) => ['--headless', '--isolated', '--output-dir', grant],
    lists: 'browser_navigate',
    call: { name: 'browser_close', arguments: () => ({}) },
    answer: 'answered',
  },
  {
    name: 'chrome-devtools',
    script: binOf('chrome-devtools-mcp', 'chrome-devtools-mcp'),
    args: () => ['--headless', '--isolated', '--no-usage-statistics'],
    lists: 'navigate_page',
    call: { name: 'list_console_messages', arguments: () => ({}) },
    answer: 'answered',
  },
  {
    name: 'code-runner',
    script: binOf('mcp-server-code-runner'),
    args: () => [],
    lists: 'run-code',
    call: { name: 'run-code', arguments: () => ({ code: 'console.log(6 * 7)', languageId: 'javascript' }) },
    answer: /42/,
  },
  {
    name: 'obsidian',
    script: binOf('mcp-obsidian'),
    args: (grant) => [grant],
    lists: 'search_notes',
    call: { name: 'search_notes', arguments: () => ({ query: 'hello' }) },
    answer: /hello\.md/,
  },
  {
    name: 'context7',
    script: binOf('@upstash/context7-mcp'),
    args: () => [],
    lists: 'resolve-library-id',
    call: { name: 'resolve-library-id', arguments: () => ({ libraryName: 'react', query: 'hooks' }) },
    answer: 'answered',
  },
  {
    name: 'notion',
    script: binOf('@notionhq/notion-mcp-server'),
    args: () => [],
    lists: 'API-get-self',
    call: { name: 'API-get-self', arguments: () => ({}) },
    answer: 'answered',
  },
  {
    name: 'github',
    script: binOf('@modelcontextprotocol/server-github'),
    args: () => [],
    lists: 'search_repositories',
    call: { name: 'search_repositories', arguments: () => ({ query: 'oacp' }) },
    answer: 'answered',
  },
  {
    name: 'postgres',
    script: binOf('@modelcontextprotocol/server-postgres'),
    args: () => ['postgresql://127.0.0.1:1/none'],
    lists: 'query',
    call: { name: 'query', arguments: () => ({ sql: 'select 1' }) },
    answer: 'answered',
  },
  {
    name: 'antv-chart',
    script: binOf('@antv/mcp-server-chart'),
    args: () => [],
    lists: 'generate_pie_chart',
    call: {
      name: 'generate_pie_chart',
      arguments: () => ({ data: [{ category: 'a', value: 1 }] }),
    },
    answer: 'answered',
  },
];

/**
 * Eleven more of the most-used npm servers (round 5 sweep, docs/compatibility.md):
 * each needs an account to do real work, so each starts with dummy credentials
 * (never real ones) and its call is one that reaches for its service and is
 * told there is no route out (NO_ROUTE), or a local one.
 */
export const SWEPT_SERVERS: readonly CompatServer[] = [
  {
    name: 'brave-search',
    script: binOf('@modelcontextprotocol/server-brave-search'),
    args: () => [],
    env: { BRAVE_API_KEY: 'dummy-key' },
    lists: 'brave_web_search',
    call: { name: 'brave_web_search', arguments: () => ({ query: 'oacp' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'slack',
    script: binOf('@modelcontextprotocol/server-slack'),
    args: () => [],
    env: { SLACK_BOT_TOKEN: 'xoxb-dummy', SLACK_TEAM_ID: 'T0000000' },
    lists: 'slack_list_channels',
    call: { name: 'slack_list_channels', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
  {
    name: 'google-maps',
    script: binOf('@modelcontextprotocol/server-google-maps'),
    args: () => [],
    env: { GOOGLE_MAPS_API_KEY: 'dummy-key' },
    lists: 'maps_geocode',
    call: { name: 'maps_geocode', arguments: () => ({ address: 'Paris' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'everart',
    script: binOf('@modelcontextprotocol/server-everart'),
    args: () => [],
    env: { EVERART_API_KEY: 'dummy-key' },
    lists: 'generate_image',
    call: { name: 'generate_image', arguments: () => ({ prompt: 'a cat' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'tavily',
    script: binOf('tavily-mcp'),
    args: () => [],
    env: { TAVILY_API_KEY: 'tvly-dummy' },
    lists: 'tavily_search',
    call: { name: 'tavily_search', arguments: () => ({ query: 'oacp' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'exa',
    script: binOf('exa-mcp-server'),
    args: () => [],
    env: { EXA_API_KEY: 'dummy-key' },
    lists: 'web_search_exa',
    call: { name: 'web_search_exa', arguments: () => ({ query: 'oacp' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'figma',
    script: binOf('figma-developer-mcp'),
    args: () => ['--stdio'],
    env: { FIGMA_API_KEY: 'dummy-key' },
    lists: 'get_figma_data',
    call: { name: 'get_figma_data', arguments: () => ({ fileKey: 'abc' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'airtable',
    script: binOf('airtable-mcp-server'),
    args: () => [],
    env: { AIRTABLE_API_KEY: 'patdummy' },
    lists: 'list_bases',
    call: { name: 'list_bases', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
  {
    name: 'youtube-transcript',
    script: binOf('@kimtaeyoon83/mcp-server-youtube-transcript'),
    args: () => [],
    lists: 'get_transcript',
    call: {
      name: 'get_transcript',
      arguments: () => ({ url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ' }),
    },
    answer: NO_ROUTE,
  },
  {
    name: 'duckduckgo',
    script: binOf('duckduckgo-mcp-server'),
    args: () => [],
    lists: 'duckduckgo_web_search',
    call: { name: 'duckduckgo_web_search', arguments: () => ({ query: 'oacp' }) },
    answer: 'answered',
  },
  {
    name: 'hubspot',
    script: binOf('@hubspot/mcp-server'),
    args: () => [],
    env: { PRIVATE_APP_ACCESS_TOKEN: 'dummy-token' },
    lists: 'hubspot-list-objects',
    call: { name: 'hubspot-get-user-details', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
];

/**
 * Seventeen more (round 20 sweep, docs/compatibility.md), chosen for how they
 * start rather than for their service: child processes (git, a shell, ps),
 * a Go binary behind a node launcher, a .NET one behind a node shim, a
 * native addon (n8n-mcp loads this repo's better-sqlite3 build; sql.js
 * WebAssembly is its fallback), CommonJS, worker threads (pino transports),
 * writes under HOME and reads of ~/.config, large dependency trees (eslint,
 * the AWS SDK, googleapis), and SDK v2 servers.
 */
export const WIDENED_SERVERS: readonly CompatServer[] = [
  {
    name: 'aws-kb-retrieval',
    script: binOf('@modelcontextprotocol/server-aws-kb-retrieval'),
    args: () => [],
    env: {
      AWS_ACCESS_KEY_ID: 'AKIADUMMYDUMMYDUMMY',
      AWS_SECRET_ACCESS_KEY: 'dummy',
      AWS_REGION: 'us-east-1',
    },
    lists: 'retrieve_from_aws_kb',
    call: {
      name: 'retrieve_from_aws_kb',
      arguments: () => ({ query: 'oacp', knowledgeBaseId: 'KB12345678' }),
    },
    // The server folds every AWS SDK error into this sentence.
    answer: /Retrieval failed/,
  },
  {
    name: 'git',
    script: binOf('@cyanheads/git-mcp-server'),
    args: () => [],
    lists: 'git_init',
    call: { name: 'git_init', arguments: (grant) => ({ path: `${grant}/repo` }) },
    answer: /success\W+true/,
  },
  {
    name: 'commands',
    script: binOf('mcp-server-commands'),
    args: () => [],
    lists: 'run_command',
    call: { name: 'run_command', arguments: () => ({ command: 'echo $((6*7))' }) },
    answer: /42/,
  },
  {
    name: 'excel',
    script: binOf('@negokaz/excel-mcp-server'),
    args: () => [],
    lists: 'excel_describe_sheets',
    // The Go binary opened the path inside the grant and found no workbook there.
    call: {
      name: 'excel_describe_sheets',
      arguments: (grant) => ({ fileAbsolutePath: `${grant}/book.xlsx` }),
    },
    answer: /book\.xlsx: no such file or directory/,
  },
  {
    name: 'taskmanager',
    script: binOf('@kazuph/mcp-taskmanager'),
    args: () => [],
    lists: 'request_planning',
    call: {
      name: 'request_planning',
      arguments: () => ({ originalRequest: 'one', tasks: [{ title: 'first', description: 'step' }] }),
    },
    answer: /status\W+planned/,
  },
  {
    name: 'eslint',
    script: binOf('@eslint/mcp'),
    args: () => [],
    files: {
      'eslint.config.js': "export default [{ rules: { 'no-var': 'error' } }];\n",
      'a.js': 'var a = 1;\n',
    },
    lists: 'lint-files',
    call: { name: 'lint-files', arguments: (grant) => ({ filePaths: [`${grant}/a.js`] }) },
    answer: /no-var/,
  },
  {
    name: 'gitlab',
    script: binOf('@zereight/mcp-gitlab'),
    args: () => [],
    env: { GITLAB_PERSONAL_ACCESS_TOKEN: 'glpat-dummy' },
    lists: 'search_repositories',
    call: { name: 'search_repositories', arguments: () => ({ search: 'oacp' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'circleci',
    script: binOf('@circleci/mcp-server-circleci'),
    args: () => [],
    env: { CIRCLECI_TOKEN: 'dummy-token' },
    lists: 'list_followed_projects',
    call: { name: 'list_followed_projects', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
  {
    name: 'airbnb',
    script: binOf('@openbnb/mcp-server-airbnb'),
    args: () => [],
    lists: 'airbnb_search',
    call: { name: 'airbnb_search', arguments: () => ({ location: 'Paris' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'n8n',
    script: binOf('n8n-mcp'),
    args: () => [],
    lists: 'search_nodes',
    call: { name: 'search_nodes', arguments: () => ({ query: 'webhook' }) },
    answer: /nodes-base\.webhook/,
  },
  {
    name: 'next-devtools',
    script: binOf('next-devtools-mcp'),
    args: () => [],
    lists: 'nextjs_index',
    call: { name: 'nextjs_index', arguments: () => ({}) },
    answer: /No running Next\.js dev servers/,
  },
  {
    name: 'google-calendar',
    script: binOf('@cocal/google-calendar-mcp'),
    args: () => [],
    grantEnv: (grant) => ({ GOOGLE_OAUTH_CREDENTIALS: `${grant}/gcp-oauth.keys.json` }),
    files: {
      'gcp-oauth.keys.json': JSON.stringify({
        installed: {
          client_id: 'dummy.apps.googleusercontent.com',
          client_secret: 'dummy',
          redirect_uris: ['http://localhost'],
        },
      }),
    },
    lists: 'list-calendars',
    call: { name: 'list-calendars', arguments: () => ({}) },
    // It looked for saved tokens under ~/.config and found none.
    answer: /Authentication tokens/,
  },
  {
    name: 'reddit',
    script: binOf('reddit-mcp-buddy'),
    args: () => [],
    lists: 'search_reddit',
    call: { name: 'search_reddit', arguments: () => ({ query: 'oacp' }) },
    // Its own words for no route: ENOTFOUND directly, EAI_AGAIN in the sandbox.
    answer: /Cannot reach Reddit|Failed to connect to Reddit/,
  },
  {
    name: 'hello-world',
    script: binOf('mcp-hello-world'),
    args: () => [],
    lists: 'echo',
    call: { name: 'echo', arguments: () => ({ message: 'hello oacp' }) },
    answer: /You said: hello oacp/,
  },
  {
    // A self-contained .NET program in a platform package (@azure/mcp-linux-x64) behind a node shim.
    name: 'azure',
    script: binOf('@azure/mcp'),
    args: () => ['server', 'start'],
    lists: 'get_azure_bestpractices',
    call: {
      name: 'get_azure_bestpractices',
      arguments: () => ({
        intent: 'code generation best practices',
        command: 'get_bestpractices_get',
        parameters: { resource: 'general', action: 'code-generation' },
      }),
    },
    answer: /best practices/,
  },
  {
    name: 'system-monitor',
    script: binOf('@modelcontextprotocol/server-system-monitor'),
    args: () => ['--stdio'],
    lists: 'poll-system-stats',
    // systeminformation reads /proc for CPU, memory and uptime.
    call: { name: 'poll-system-stats', arguments: () => ({}) },
    answer: /usedPercent/,
  },
  {
    name: 'pdf',
    script: binOf('@modelcontextprotocol/server-pdf'),
    args: (grant) => ['--stdio', grant],
    lists: 'list_pdfs',
    call: { name: 'list_pdfs', arguments: () => ({}) },
    answer: /Allowed local directories/,
  },
];

/**
 * Eight more, by monthly npm downloads (round 21 sweep, docs/compatibility.md):
 * a file-and-terminal server that keeps its config under HOME, database
 * servers that log under ~/.mongodb or need an access token, the Kubernetes
 * client reading ~/.kube, a monorepo tool given a workspace (nx), two browser drivers
 * (Puppeteer launching Debian's chromium per call, so it needs Unix sockets),
 * and an OAuth server whose keys and token files are named by variables
 * pointing into the grant.
 */
export const POPULAR_SERVERS: readonly CompatServer[] = [
  {
    name: 'desktop-commander',
    script: binOf('@wonderwhy-er/desktop-commander', 'desktop-commander'),
    args: () => [],
    lists: 'start_process',
    call: { name: 'list_directory', arguments: (grant) => ({ path: grant }) },
    answer: /\[FILE\] hello\.md/,
  },
  {
    name: 'mongodb',
    script: binOf('mongodb-mcp-server'),
    args: () => [],
    lists: 'find',
    call: { name: 'list-connections', arguments: () => ({}) },
    answer: /no active connections/,
  },
  {
    name: 'supabase',
    script: binOf('@supabase/mcp-server-supabase'),
    // The database feature's tools list offline; the docs feature fetches its schema at tools/list.
    args: () => ['--read-only', '--project-ref', 'abcdefghijklmnopqrst', '--features', 'database'],
    env: { SUPABASE_ACCESS_TOKEN: 'sbp_dummy' },
    lists: 'list_tables',
    call: { name: 'list_tables', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
  {
    name: 'kubernetes',
    script: binOf('mcp-server-kubernetes'),
    args: () => [],
    lists: 'kubectl_get',
    // Read from the (absent) kubeconfig under HOME by the Kubernetes client.
    call: { name: 'kubectl_context', arguments: () => ({ operation: 'list' }) },
    answer: /contexts/,
  },
  {
    name: 'nx',
    script: binOf('nx-mcp'),
    args: (grant) => [grant],
    lists: 'nx_docs',
    call: { name: 'nx_docs', arguments: () => ({ userQuery: 'generators' }) },
    answer: NO_ROUTE,
  },
  {
    name: 'executeautomation-playwright',
    script: binOf('@executeautomation/playwright-mcp-server'),
    args: () => [],
    lists: 'playwright_navigate',
    call: { name: 'playwright_close', arguments: () => ({}) },
    answer: /No browser instance to close/,
  },
  {
    name: 'puppeteer',
    script: binOf('@modelcontextprotocol/server-puppeteer'),
    args: () => [],
    env: {
      // Debian's chromium (puppeteer's own download is skipped at install); OACP is the sandbox.
      PUPPETEER_LAUNCH_OPTIONS: JSON.stringify({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox'],
      }),
      ALLOW_DANGEROUS: 'true',
    },
    // Its call launches a browser: chromium's start is more than the default 1 s of CPU per
    // request in one busy stretch (1.1 s in gVisor in a CI run), which the bridge refuses naming
    // --quota-cpu (docs/compatibility.md item 4); the sweep lifts it by that flag.
    flags: ['--allow-unix-sockets', '--quota-cpu', '10s'],
    lists: 'puppeteer_navigate',
    call: {
      name: 'puppeteer_navigate',
      arguments: () => ({ url: 'data:text/html,<title>oacp</title>hello' }),
    },
    answer: /Navigated to data:text\/html/,
  },
  {
    name: 'gmail',
    script: binOf('@gongrzhe/server-gmail-autoauth-mcp'),
    args: () => [],
    grantEnv: (grant) => ({
      GMAIL_OAUTH_PATH: `${grant}/gcp-oauth.keys.json`,
      GMAIL_CREDENTIALS_PATH: `${grant}/credentials.json`,
    }),
    files: {
      'gcp-oauth.keys.json': JSON.stringify({
        installed: {
          client_id: 'dummy.apps.googleusercontent.com',
          client_secret: 'dummy',
          redirect_uris: ['http://localhost'],
        },
      }),
      'credentials.json': JSON.stringify({
        access_token: 'ya29.dummy',
        refresh_token: '1//dummy',
        token_type: 'Bearer',
        expiry_date: 9_999_999_999_999,
      }),
    },
    lists: 'list_email_labels',
    call: { name: 'list_email_labels', arguments: () => ({}) },
    answer: NO_ROUTE,
  },
];

/**
 * Round 22 (docs/compatibility.md): Brave's own server, which replaced the
 * archived reference one above; SDK 1.30 and zod 4. mcp-remote, the other
 * server of this round, needs a Streamable HTTP server beside it and runs in
 * remote-client.test.ts.
 */
const BRAVE_SEARCH_V2: CompatServer = {
  name: 'brave-search-v2',
  script: binOf('@brave/brave-search-mcp-server'),
  args: () => [],
  env: { BRAVE_API_KEY: 'dummy-key' },
  lists: 'brave_web_search',
  call: { name: 'brave_web_search', arguments: () => ({ query: 'oacp' }) },
  answer: NO_ROUTE,
};

export const ROUND22_SERVERS: readonly CompatServer[] = [BRAVE_SEARCH_V2];

/**
 * The same server started by npm's bin link, `node_modules/.bin/NAME`, a
 * symlink to its ES module entry, which imports `./config.js` beside itself.
 */
export const BIN_LINK_SERVER: CompatServer = {
  ...BRAVE_SEARCH_V2,
  name: 'brave-search-v2 (bin link)',
  script: join(NODE_MODULES, '.bin', 'brave-search-mcp-server'),
  direct: true,
};
