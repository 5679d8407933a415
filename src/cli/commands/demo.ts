import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processTiers } from '../../airlock/process-tiers.js';
import type { ProcessTier } from '../../airlock/sandbox.js';
import { ManifestSchema } from '../../capability/manifest.js';
import { KeyStore } from '../../identity/keystore.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { defaultOrigin, writeNodeConfig } from '../../node/node-config.js';
import { OacpNode } from '../../node/oacp-node.js';
import { executeProcess } from '../../run/execute-process.js';
import { verifyOffline } from '../../verify/offline-verifier.js';
import type { CommandRegistrar } from '../program.js';
import { describeWorkload } from './workload.js';

export const registerDemo: CommandRegistrar = (program, context) => {
  program
    .command('demo')
    .description(
      'walk through OACP end to end in a throw-away home: identities, a sandboxed run, its receipt, the log, offline verification',
    )
    .action(async () => {
      const { out } = context.output;
      const root = mkdtempSync(join(tmpdir(), 'oacp-demo-'));
      const home = join(root, 'home');
      out(`1. identities (throw-away home ${home})`);
      const store = await KeyStore.init(home, { env: {} });
      const keys = store.publicKeys();
      writeNodeConfig(home, { version: 1, origin: defaultOrigin(keys.log.raw) });
      const agent = store.createAgent('demo-agent');
      out(`   airlock signer ${keys.airlock.didKey}`);
      out(`   agent          ${agent.did}`);

      const node = await OacpNode.open(home, {});
      try {
        const tier = await strongestProcessTier();
        out(
          `2. run a command in the Airlock (${tier.name} tier: the strongest this machine offers; see \`oacp doctor\`)`,
        );
        const args = [
          '-e',
          'process.stdout.write("hello from the sandbox, " + (process.env.SECRET ?? "no secret visible"))',
        ];
        const workload = describeWorkload('demo', process.execPath, args);
        const manifest = ManifestSchema.parse({
          apiVersion: 'oacp.dev/v1',
          kind: 'CapabilityManifest',
          name: 'demo',
        });
        const outcome = await executeProcess({
          tier,
          spec: {
            command: process.execPath,
            args,
            manifest,
            implicitReadPaths: workload.implicitReadPaths,
            env: { ...process.env, SECRET: 'demo-canary-not-granted' },
          },
          codeFiles: workload.codeFiles,
          agentDid: agent.did,
        });
        out(`   stdout: ${outcome.stdout.toString('utf8')}`);
        out(
          `   exit ${outcome.exit.code}, ${outcome.usage.wallMs.toFixed(0)} ms wall, ${outcome.usage.cpuMs.toFixed(0)} ms cpu`,
        );

        out('3. sign the execution receipt (agent + Airlock) and append it to the transparency log');
        const recorded = await node.record(outcome.statement, agent.signer);
        await node.log.sync();
        out(`   log index ${recorded.index}; checkpoint:`);
        for (const line of node.log.checkpoint().trimEnd().split('\n')) out(`     ${line}`);

        const receiptPath = join(root, 'receipt.json');
        writeFileSync(receiptPath, recorded.bytes);
        writeFileSync(`${receiptPath}.tlog-proof`, node.log.proofFile(recorded.index));
        const vkey = formatVerifierKey(node.origin, SIG_TYPE_ED25519, keys.log.raw);
        writeFileSync(join(root, 'log.vkey'), `${vkey}\n`);
        writeFileSync(join(root, 'signer.pem'), keys.airlock.pem);
        out(`4. verify offline from public keys only (files in ${root})`);
        out(
          `   oacp verify ${receiptPath} --proof ${receiptPath}.tlog-proof --log-key ${join(root, 'log.vkey')} --signer-key ${join(root, 'signer.pem')}`,
        );
        const input = {
          receipt: readFileSync(receiptPath, 'utf8'),
          proof: readFileSync(`${receiptPath}.tlog-proof`, 'utf8'),
          logKey: vkey,
          airlockKeys: [keys.airlock.raw],
        };
        const verified = verifyOffline(input);
        for (const check of verified.checks)
          out(`   ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
        out(`   trust level: ${verified.trustLevel} (Verified needs a TEE quote; this machine has none)`);

        out('5. tamper with the receipt and verify again');
        const envelope = JSON.parse(input.receipt) as { payload: string };
        const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
          predicate: { tier: string };
        };
        statement.predicate.tier = 'gvisor'; // claim a stronger sandbox than the one that ran
        envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
        const tampered = verifyOffline({ ...input, receipt: JSON.stringify(envelope) });
        if (tampered.ok) out('   UNEXPECTEDLY verified');
        for (const check of tampered.checks.filter((c) => !c.ok))
          out(`   refused: ${check.name}: ${check.detail}`);
        if (!verified.ok || tampered.ok) process.exitCode = 1;
      } finally {
        await node.close();
      }
    });
};

/** gvisor, then hardened, then light: the first this host can run. */
async function strongestProcessTier(): Promise<ProcessTier> {
  const tiers = processTiers().filter((tier) => ['gvisor', 'hardened', 'light'].includes(tier.name));
  for (const tier of tiers.reverse()) {
    if ((await tier.availability()).available) return tier;
  }
  throw new Error('no process tier is available');
}
