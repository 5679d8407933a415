import { describe, expect, it } from 'vitest';
import { EXECUTION_PREDICATE_TYPE } from '../attest/execution.js';
import { buildStatement } from '../attest/receipt.js';
import { ManifestSchema } from '../capability/manifest.js';
import { OacpError } from '../core/errors.js';
import { endedOutcome, refusedExecution } from './execution-facts.js';

const manifest = ManifestSchema.parse({ apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 't' });
const digest = 'a'.repeat(64);

function refuse(tier: 'hardened' | 'gvisor' | 'tee', error: unknown) {
  return refusedExecution({
    tier,
    codeDigest: digest,
    inputsDigest: digest,
    manifest,
    startedAt: new Date(),
    error,
  });
}

describe('execution facts', () => {
  it('describes a refused start: nothing ran, the reason and the limits named', () => {
    const statement = refuse('hardened', new OacpError('AIRLOCK_BAD_SPEC', 'grant overlaps the home'));
    expect(statement.predicate).toMatchObject({
      outcome: 'refused',
      reason: 'AIRLOCK_BAD_SPEC: grant overlaps the home',
      exit: { code: null, signal: null },
      usage: { wallMs: 0, cpuMs: 0 },
      limits: { memoryMb: 512, cpuMsPerRequest: 1000, unenforced: [] },
    });
  });

  it('keeps a receipt possible whatever the refusal says: a huge message ending mid surrogate pair is clipped', () => {
    const message = `${'x'.repeat(4095)}\u{1F600}${'y'.repeat(10_000)}`;
    const statement = refuse('gvisor', new Error(message));
    expect(statement.predicate.reason).toBe('x'.repeat(4095));
  });

  it('records a refused tee start without a quote (nothing ran in it) and claims no hardware', () => {
    const statement = refuse('tee', new Error('no TEE'));
    expect(statement.predicate).toMatchObject({ tier: 'tee', assurance: 'software' });
    expect(statement.predicate.tee).toBeUndefined();
  });

  it('still refuses tier tee without a quote on a run that did run, and a tee assurance on a refused one', () => {
    const refused = refuse('tee', new Error('no TEE')).predicate;
    for (const outcome of ['exited', 'killed', 'interrupted', undefined] as const) {
      const { outcome: _refused, ...rest } = refused;
      const predicate = outcome === undefined ? rest : { ...rest, outcome };
      expect(() => buildStatement({ predicateType: EXECUTION_PREDICATE_TYPE, predicate })).toThrow(
        /tier 'tee' needs a TEE quote/,
      );
    }
    expect(() =>
      buildStatement({
        predicateType: EXECUTION_PREDICATE_TYPE,
        predicate: { ...refused, assurance: 'tee' },
      }),
    ).toThrow(/assurance 'tee' needs a TEE quote/);
  });

  it('tells a limit kill from an interrupt from a run that ended by itself', () => {
    expect(endedOutcome({ killedBy: 'cpu', detail: 'used 1 s' }, { signal: 'SIGINT' })).toEqual({
      outcome: 'killed',
      reason: 'used 1 s',
    });
    expect(endedOutcome({}, { signal: 'SIGHUP' })).toEqual({
      outcome: 'interrupted',
      reason: 'oacp received SIGHUP and stopped the workload',
    });
    expect(endedOutcome({}, undefined)).toEqual({ outcome: 'exited' });
  });
});
