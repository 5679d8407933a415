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
}

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
