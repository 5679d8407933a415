import { describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import { COMPAT_SERVERS, type CompatServer } from './servers.js';

/**
 * A server whose tool lists the host's network interfaces (systeminformation,
 * dev servers printing their URLs, `ip`-style packages all call
 * os.networkInterfaces()) through `oacp mcp run`: glibc's getifaddrs() opens
 * a netlink socket of type SOCK_RAW, which the hardened filter refused as it
 * refuses raw IP sockets, so Node threw `uv_interface_addresses returned
 * Unknown system error 1` there while it answered directly and in gVisor.
 * The sandbox sees its own network namespace: loopback only.
 */
const codeRunner = COMPAT_SERVERS.find((server) => server.name === 'code-runner');
if (codeRunner === undefined) throw new Error('code-runner is no longer in COMPAT_SERVERS');
const listsInterfaces: CompatServer = {
  ...codeRunner,
  call: {
    name: 'run-code',
    arguments: () => ({
      code: "console.log('interfaces:', Object.keys(require('node:os').networkInterfaces()).join(','))",
      languageId: 'javascript',
    }),
  },
  answer: /interfaces: lo\b/,
};

const root = process.getuid?.() === 0;
const legs: [tier: 'hardened' | 'gvisor', identity: Identity][] = [
  ['hardened', 'root'],
  ['hardened', 'user'],
  ['gvisor', 'user'],
];

describe.skipIf(!binaryBuilt() || !root)('compat: os.networkInterfaces() inside a server', () => {
  for (const [tier, identity] of legs)
    it(`${tier} as ${identity}: the tool lists the sandbox's loopback interface`, async () => {
      const outcome = await runCompat(listsInterfaces, tier, identity);
      expect(outcome.text).not.toMatch(/uv_interface_addresses/);
      expect(outcome.text).toMatch(/interfaces: lo\b/);
    }, 120_000);
});
