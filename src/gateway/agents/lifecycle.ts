import { allow, type Decision, deny } from '../../core/decision.js';
import { OacpError } from '../../core/errors.js';
import type { AgentErrorCode } from './errors.js';

export const AGENT_STATES = ['created', 'running', 'suspended', 'retired'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/**
 * The only legal moves. `retired` is terminal: its context key is destroyed,
 * so there is nothing to come back to.
 */
const LEGAL: Readonly<Record<AgentState, readonly AgentState[]>> = {
  created: ['running', 'retired'],
  running: ['suspended', 'retired'],
  suspended: ['running', 'retired'],
  retired: [],
};

export function isAgentState(value: string): value is AgentState {
  return (AGENT_STATES as readonly string[]).includes(value);
}

export function transitionDecision(from: AgentState, to: AgentState): Decision {
  if (LEGAL[from].includes(to)) return allow(`${from} -> ${to}`, 'agent.lifecycle');
  const options = LEGAL[from].length === 0 ? 'none: retired is terminal' : LEGAL[from].join(', ');
  return deny(
    `illegal transition ${from} -> ${to} (from ${from} the legal moves are: ${options})`,
    'agent.lifecycle',
  );
}

export function assertTransition(agentId: string, from: AgentState, to: AgentState): void {
  const decision = transitionDecision(from, to);
  if (decision.effect === 'deny') {
    throw new OacpError<AgentErrorCode>('AGENT_ILLEGAL_TRANSITION', `agent ${agentId}: ${decision.reason}`);
  }
}

/** The lifecycle as verbs, for APIs that name the action rather than the target state. */
export type AgentTransition = 'start' | 'suspend' | 'resume' | 'retire';

export const TRANSITIONS: Readonly<
  Record<AgentTransition, { readonly from: readonly AgentState[]; readonly to: AgentState }>
> = {
  start: { from: ['created'], to: 'running' },
  suspend: { from: ['running'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'running' },
  retire: { from: ['created', 'running', 'suspended'], to: 'retired' },
};
