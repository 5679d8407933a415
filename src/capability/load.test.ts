import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signEnvelope } from '../attest/dsse.js';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { loadManifest } from './load.js';
import { parseManifest } from './parse.js';
import { MANIFEST_PAYLOAD_TYPE, signManifest } from './signed.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refusal(run: () => unknown): OacpError {
  try {
    run();
  } catch (error) {
    if (error instanceof OacpError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const YAML = `apiVersion: oacp.dev/v1
kind: CapabilityManifest
name: summarizer
capabilities:
  file_read: ["/data/**"]
  network:
    allowlist: ["api.example.com:443"]
quotas:
  cpu_ms_per_request: 250
`;

describe('loadManifest', () => {
  it('reads YAML and JSON files', () => {
    const fromYaml = loadManifest(file('m.yaml', YAML));
    expect(fromYaml.name).toBe('summarizer');
    expect(fromYaml.quotas.cpu_ms_per_request).toBe(250);
    const fromJson = loadManifest(file('m.json', JSON.stringify(fromYaml)));
    expect(fromJson).toEqual(fromYaml);
  });

  it('refuses an invalid file with the field and reason instead of defaults', () => {
    const error = refusal(() =>
      loadManifest(file('bad.yaml', YAML.replace('api.example.com:443', 'http://x'))),
    );
    expect(error.code).toBe('CAPABILITY_MANIFEST_INVALID');
    expect(error.message).toContain('capabilities.network.allowlist[0]: must be host, host:port or *.domain');
    expect(error.message).toContain('bad.yaml');
  });

  it('refuses unreadable and unparsable files', () => {
    expect(refusal(() => loadManifest(join(dir, 'missing.yaml'))).message).toContain('ENOENT');
    const syntax = refusal(() => loadManifest(file('broken.json', '{"apiVersion": ')));
    expect(syntax.code).toBe('CAPABILITY_MANIFEST_UNREADABLE');
    expect(refusal(() => loadManifest(file('dup.yaml', 'name: a\nname: b\n'))).code).toBe(
      'CAPABILITY_MANIFEST_UNREADABLE',
    );
  });

  it('attack: a JSON manifest that names a field twice is refused like a YAML one, not read as its last', () => {
    const text =
      '{"apiVersion":"oacp.dev/v1","kind":"CapabilityManifest","name":"a","capabilities":{"env":[]},"capabilities":{"env":["AWS_*"]}}';
    const error = refusal(() => loadManifest(file('dup.json', text)));
    expect(error.code).toBe('CAPABILITY_MANIFEST_UNREADABLE');
    expect(error.message).toContain('repeats the member "capabilities"');
  });
});

describe('signed manifests', () => {
  const key = generateEd25519();
  const signer = keySigner(key.privateKey);
  const trustedKeys = [rawPublicKey(key.publicKey)];
  const manifest = parseManifest({ apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'signed' });

  it('accepts an envelope signed by a trusted key when signatures are required', () => {
    const path = file('signed.json', JSON.stringify(signManifest(manifest, [signer])));
    expect(loadManifest(path, { requireSigned: true, trustedKeys })).toEqual(manifest);
  });

  it('refuses a bare manifest when require_signed_manifests is on', () => {
    const error = refusal(() => loadManifest(file('bare.yaml', YAML), { requireSigned: true, trustedKeys }));
    expect(error.code).toBe('CAPABILITY_MANIFEST_UNSIGNED');
    expect(error.message).toContain('require_signed_manifests is on');
  });

  it('refuses a tampered payload', () => {
    const envelope = signManifest(manifest, [signer]);
    const widened = { ...manifest, capabilities: { ...manifest.capabilities, env: ['AWS_*'] } };
    const tampered = { ...envelope, payload: Buffer.from(JSON.stringify(widened)).toString('base64') };
    const error = refusal(() =>
      loadManifest(file('tampered.json', JSON.stringify(tampered)), { trustedKeys }),
    );
    expect(error.code).toBe('CAPABILITY_MANIFEST_SIGNATURE');
    expect(error.message).toContain('no signature verifies under a trusted key');
  });

  it('refuses a signature by an unknown key, even when signatures are optional', () => {
    const stranger = keySigner(generateEd25519().privateKey);
    const path = file('stranger.json', JSON.stringify(signManifest(manifest, [stranger])));
    expect(refusal(() => loadManifest(path, { trustedKeys })).code).toBe('CAPABILITY_MANIFEST_SIGNATURE');
    expect(refusal(() => loadManifest(path)).message).toContain(
      'no trusted manifest signing keys are configured',
    );
  });

  it('attack: a signed payload that names a field twice is refused, whoever signed it', () => {
    const text = `{"capabilities":{"env":["AWS_*"]},${JSON.stringify(manifest).slice(1)}`;
    const envelope = signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from(text), [signer]);
    const error = refusal(() =>
      loadManifest(file('dup-signed.json', JSON.stringify(envelope)), { trustedKeys }),
    );
    expect(error.code).toBe('CAPABILITY_MANIFEST_SIGNATURE');
    expect(error.message).toContain('the signed payload repeats the member "capabilities"');
  });

  it('accepts a signature without keyid, and ignores an extra signature by a stranger beside a trusted one', () => {
    const stranger = keySigner(generateEd25519().privateKey);
    const envelope = signManifest(manifest, [stranger, signer]);
    const noKeyid = { ...envelope, signatures: envelope.signatures.map(({ sig }) => ({ sig })) };
    const path = file('no-keyid.json', JSON.stringify(noKeyid));
    expect(loadManifest(path, { requireSigned: true, trustedKeys })).toEqual(manifest);
  });

  it('refuses the wrong payload type and unsigned envelopes', () => {
    const envelope = signManifest(manifest, [signer]);
    const wrongType = { ...envelope, payloadType: 'application/json' };
    expect(
      refusal(() => loadManifest(file('type.json', JSON.stringify(wrongType)), { trustedKeys })).message,
    ).toContain('payload type is "application/json"');
    const unsigned = { ...envelope, signatures: [] };
    expect(
      refusal(() => loadManifest(file('nosig.json', JSON.stringify(unsigned)), { trustedKeys })).message,
    ).toContain('carries no signatures');
  });
});
