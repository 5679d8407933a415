import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { verifyConsistency, verifyInclusion } from '../../src/log/proof-verify.js';
import { jsonVectors, requireVectors } from './vectors.js';

const b64 = z.string().transform((text) => new Uint8Array(Buffer.from(text, 'base64')));
const proof = z
  .array(b64)
  .nullable()
  .transform((list) => list ?? []);
const InclusionCase = z.object({
  leafIdx: z.number(),
  treeSize: z.number(),
  root: b64,
  leafHash: b64,
  proof,
  desc: z.string(),
  wantErr: z.boolean(),
});
const ConsistencyCase = z.object({
  size1: z.number(),
  size2: z.number(),
  root1: b64,
  root2: b64,
  proof,
  desc: z.string(),
  wantErr: z.boolean(),
});

requireVectors('rfc6962');

describe('RFC 9162 section 2.1.3.2 inclusion verification against transparency-dev vectors', () => {
  const cases = jsonVectors('rfc6962/inclusion');
  it('has vectors to check', () => expect(cases.length).toBeGreaterThan(50));
  for (const [path, raw] of cases) {
    const c = InclusionCase.parse(raw);
    it(`${path}: ${c.desc} -> ${c.wantErr ? 'rejected' : 'accepted'}`, () => {
      const verdict = verifyInclusion(c.leafIdx, c.treeSize, c.leafHash, c.proof, c.root);
      expect(verdict.ok).toBe(!c.wantErr);
    });
  }
});

describe('RFC 9162 section 2.1.4.2 consistency verification against transparency-dev vectors', () => {
  const cases = jsonVectors('rfc6962/consistency');
  it('has vectors to check', () => expect(cases.length).toBeGreaterThan(50));
  for (const [path, raw] of cases) {
    const c = ConsistencyCase.parse(raw);
    it(`${path}: ${c.desc} -> ${c.wantErr ? 'rejected' : 'accepted'}`, () => {
      const verdict = verifyConsistency(c.size1, c.size2, c.proof, c.root1, c.root2);
      expect(verdict.ok).toBe(!c.wantErr);
    });
  }
});
