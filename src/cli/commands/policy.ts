import { z } from 'zod';
import { GatewayPolicy } from '../../gateway/runtime/policy/gateway-policy.js';
import { loadGlobalPolicyFiles } from '../../gateway/runtime/policy/load.js';
import { GATEWAY_ACTIONS, type GatewayAction } from '../../gateway/runtime/policy/schema.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';
import { collect, readInputFile } from './shared.js';

const Entity = z.strictObject({
  id: z.string().min(1),
  attributes: z.record(z.string(), z.unknown()).default({}),
});
const RequestFile = z.strictObject({
  action: z.enum(GATEWAY_ACTIONS),
  principal: Entity,
  resource: Entity,
  context: z.record(z.string(), z.unknown()).default({}),
});

/** `key=value`: the value as JSON when it parses (true, 2, "x", [..]), else as a string. */
function pairs(list: readonly string[], flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list) {
    const at = item.indexOf('=');
    if (at <= 0) throw new CliExit(`${flag} ${JSON.stringify(item)}: expected key=value`, 2);
    const text = item.slice(at + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    out[item.slice(0, at)] = value;
  }
  return out;
}

/**
 * `oacp policy test`: evaluates one request against the gateway's global
 * policies offline, exactly as the gateway would, and prints the decision
 * with its reason and policy ids. Exit code 0 for allow, 1 for deny.
 */
export const registerPolicy: CommandRegistrar = (program, context) => {
  const policy = program.command('policy').description('Cedar policies of the gateway (docs/gateway.md)');
  policy
    .command('test')
    .description('evaluate a request against policy files offline; exit 0 on allow, 1 on deny')
    .requiredOption('--policy <file>', 'a Cedar policy file (repeatable; evaluated together)', collect, [])
    .option(
      '--request <file>',
      'the request as JSON: {action, principal: {id, attributes}, resource: {id, attributes}, context}',
    )
    .option('--action <action>', `one of ${GATEWAY_ACTIONS.join(', ')}`)
    .option('--principal <id>', "the agent's did:key (or any id)")
    .option(
      '--principal-attr <key=value>',
      'an agent attribute (repeatable), e.g. authorized_for_hipaa=true',
      collect,
      [],
    )
    .option('--resource <id>', 'the tool name, host, context key or sandbox id')
    .option(
      '--resource-attr <key=value>',
      'a resource attribute (repeatable), e.g. data=patient_data',
      collect,
      [],
    )
    .option('--context <key=value>', 'a context value (repeatable), e.g. running=3', collect, [])
    .option('--json', 'print the decision as JSON')
    .action(
      (options: {
        policy: string[];
        request?: string;
        action?: string;
        principal?: string;
        principalAttr: string[];
        resource?: string;
        resourceAttr: string[];
        context: string[];
        json?: boolean;
      }) => {
        // Commander takes the empty default as the required option given: without a file every
        // request is a deny that reads as the policy's own answer.
        if (options.policy.length === 0)
          throw new CliExit('--policy: give the Cedar policy file to test (repeatable)', 2);
        const request =
          options.request !== undefined
            ? parseRequestFile(readInputFile(options.request, 'request'), options.request)
            : fromFlags(options);
        const engine = new GatewayPolicy(loadGlobalPolicyFiles(options.policy));
        const decision = engine.decide(request);
        if (options.json === true) context.output.out(JSON.stringify(decision));
        else {
          context.output.out(`${decision.effect}: ${decision.reason}`);
          context.output.out(`policy digest: ${decision.policyDigest}`);
        }
        if (decision.effect === 'deny') process.exitCode = 1;
      },
    );
};

function parseRequestFile(text: string, path: string) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliExit(`${path} is not JSON`, 2);
  }
  const parsed = RequestFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliExit(`${path}: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`, 2);
  }
  return parsed.data;
}

function fromFlags(options: {
  action?: string;
  principal?: string;
  principalAttr: string[];
  resource?: string;
  resourceAttr: string[];
  context: string[];
}) {
  if (options.action === undefined || !(GATEWAY_ACTIONS as readonly string[]).includes(options.action)) {
    throw new CliExit(`--action must be one of ${GATEWAY_ACTIONS.join(', ')} (or give --request FILE)`, 2);
  }
  if (options.principal === undefined || options.resource === undefined) {
    throw new CliExit('give --principal and --resource (or --request FILE)', 2);
  }
  return {
    action: options.action as GatewayAction,
    principal: { id: options.principal, attributes: pairs(options.principalAttr, '--principal-attr') },
    resource: { id: options.resource, attributes: pairs(options.resourceAttr, '--resource-attr') },
    context: pairs(options.context, '--context'),
  };
}
