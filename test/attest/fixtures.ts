import { randomBytes } from 'node:crypto';
import type { ExecutionPredicateInput } from '../../src/attest/execution.js';
import type { ToolCallPredicateInput } from '../../src/attest/tool-call.js';
import { sha256Hex } from '../../src/core/digest.js';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';

export function newSigner(): Signer {
  return keySigner(generateEd25519().privateKey);
}

export const usage = {
  wallMs: 12,
  cpuMs: 5,
  memoryPeakBytes: 1_048_576,
  egressRequests: 0,
  egressDenied: 0,
  outputBytes: 42,
};

/** A tool call as the MCP bridge would describe it. */
export function toolCallPredicate(agent: Signer | undefined): ToolCallPredicateInput {
  return {
    agent:
      agent === undefined ? { clientId: 'claude-desktop' } : { did: didKeyFromPublicKey(agent.publicKey) },
    server: {
      name: 'filesystem',
      command: ['node', 'server-filesystem/dist/index.js', '/tmp/work'],
      files: [{ path: 'server-filesystem/dist/index.js', sha256: sha256Hex('server code') }],
    },
    tool: {
      name: 'read_file',
      definitionDigest: jcsDigest({ name: 'read_file', inputSchema: { type: 'object' } }),
    },
    argumentsDigest: jcsDigest({ path: '/tmp/work/a.txt' }),
    resultDigest: jcsDigest({ content: [{ type: 'text', text: 'hello' }] }),
    policy: {
      effect: 'allow',
      reason: 'read inside the workspace',
      policyId: 'fs-read',
      policyDigest: sha256Hex('policy'),
    },
    tier: 'light',
    usage,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:00.012Z',
    durationMs: 12,
  };
}

export function executionPredicate(agent: Signer | undefined): ExecutionPredicateInput {
  return {
    ...(agent === undefined ? {} : { agent: { did: didKeyFromPublicKey(agent.publicKey) } }),
    codeDigest: sha256Hex('console.log(1)'),
    manifestDigest: jcsDigest({ capabilities: {} }),
    tier: 'standard',
    inputsDigest: jcsDigest({}),
    outputsDigest: sha256Hex('1\n'),
    usage,
    toolCalls: [{ logIndex: 7, envelopeDigest: sha256Hex('envelope') }],
    exit: { code: 0, signal: null },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
  };
}

/** Bytes shaped like a hardware quote (binary, varied, long): the schema's sanity checks pass, nothing more. */
export function quoteShapedBytes(): string {
  return randomBytes(1184).toString('base64');
}
