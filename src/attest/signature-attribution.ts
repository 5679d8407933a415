import type { KeyObject } from 'node:crypto';
import { publicKeyFromRaw, verifyEd25519 } from '../core/ed25519.js';
import { keyFingerprint } from '../identity/public-key-forms.js';

/**
 * A raw public key made into a KeyObject on first use and kept: a verifier
 * checking many receipts converts each key once. A key that cannot be converted
 * throws each time it is used, exactly as converting it per check would.
 */
export class CandidateKey {
  private converted: { key: KeyObject } | { error: unknown } | undefined;
  private print: string | undefined;

  constructor(readonly raw: Uint8Array) {}

  keyObject(): KeyObject {
    if (this.converted === undefined) {
      try {
        this.converted = { key: publicKeyFromRaw(this.raw) };
      } catch (error) {
        this.converted = { error };
      }
    }
    if ('error' in this.converted) throw this.converted.error;
    return this.converted.key;
  }

  get fingerprint(): string {
    this.print ??= keyFingerprint(this.raw);
    return this.print;
  }
}

/** One Ed25519 check: does `signature` over `message` verify under `key`? */
export interface SignatureQuestion {
  readonly key: KeyObject;
  readonly message: Buffer;
  readonly signature: Buffer;
}

/** Who signed what, once every signature is decided. */
export interface Attribution {
  /** The Airlock key of the first signature made by one. */
  readonly airlockBy: CandidateKey | undefined;
  readonly agentSigned: boolean;
  /** Indexes of signatures that verify under no candidate key. */
  readonly unattributed: readonly number[];
}

type Decision = { by: 'airlock'; key: CandidateKey } | { by: 'agent' } | { by: 'nobody' };

/**
 * Attributes each signature of an envelope: to the first Airlock key (in the
 * order given) it verifies under, else to the agent's key, else to nobody. Each
 * undecided signature has one next question, so a batch can put the questions
 * of many envelopes to other threads at once and feed the answers back. Either
 * way each signature walks the same candidates in the same order, so the
 * attribution (and any error from a malformed key) is the same.
 */
export class SignatureAttribution {
  /** Per signature: how many candidates have been ruled out, or the decision. */
  private readonly state: Array<number | Decision>;
  private readonly candidates: readonly CandidateKey[];
  private readonly asked = new Map<SignatureQuestion, number>();

  constructor(
    private readonly message: Buffer,
    private readonly signatures: readonly Buffer[],
    airlockKeys: readonly CandidateKey[],
    private readonly agentKey: CandidateKey | undefined,
  ) {
    this.candidates = agentKey === undefined ? airlockKeys : [...airlockKeys, agentKey];
    this.state = signatures.map(() => 0);
  }

  /**
   * The next check of every undecided signature. Throws if a candidate key the
   * checks have reached cannot be made into a key.
   */
  questions(): SignatureQuestion[] {
    const out: SignatureQuestion[] = [];
    this.asked.clear();
    this.state.forEach((state, i) => {
      if (typeof state !== 'number') return;
      const signature = this.signatures[i] as Buffer;
      // Not 64 bytes: fails under every key, and no key is even looked at (as verifyEd25519 does).
      const candidate = this.candidates[state];
      if (signature.length !== 64 || candidate === undefined) {
        this.state[i] = { by: 'nobody' };
        return;
      }
      const question = { key: candidate.keyObject(), message: this.message, signature };
      this.asked.set(question, i);
      out.push(question);
    });
    return out;
  }

  /** Feeds back the answer to one of the last `questions()`. */
  answer(question: SignatureQuestion, verifies: boolean): void {
    const i = this.asked.get(question);
    if (i === undefined) return;
    this.asked.delete(question);
    const state = this.state[i];
    if (typeof state === 'number') this.decide(i, state, verifies);
  }

  /** Answers every remaining check on this thread: each signature in turn, as a plain loop would. */
  settle(): Attribution {
    for (let i = 0; i < this.state.length; i++) {
      for (let state = this.state[i]; typeof state === 'number'; state = this.state[i]) {
        const signature = this.signatures[i] as Buffer;
        const candidate = this.candidates[state];
        if (signature.length !== 64 || candidate === undefined) {
          this.state[i] = { by: 'nobody' };
          break;
        }
        this.decide(i, state, verifyEd25519(candidate.keyObject(), this.message, signature));
      }
    }
    return this.result();
  }

  private decide(i: number, state: number, verifies: boolean): void {
    const isAgent = this.agentKey !== undefined && state === this.candidates.length - 1;
    if (verifies)
      this.state[i] = isAgent
        ? { by: 'agent' }
        : { by: 'airlock', key: this.candidates[state] as CandidateKey };
    else if (state + 1 < this.candidates.length) this.state[i] = state + 1;
    else this.state[i] = { by: 'nobody' };
  }

  get decided(): boolean {
    return this.state.every((state) => typeof state !== 'number');
  }

  /** Call once `decided`. */
  result(): Attribution {
    let airlockBy: CandidateKey | undefined;
    let agentSigned = false;
    const unattributed: number[] = [];
    this.state.forEach((state, i) => {
      if (typeof state === 'number' || state.by === 'nobody') unattributed.push(i);
      else if (state.by === 'agent') agentSigned = true;
      else airlockBy ??= state.key;
    });
    return { airlockBy, agentSigned, unattributed };
  }
}
