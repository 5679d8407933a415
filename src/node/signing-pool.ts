import { availableParallelism } from 'node:os';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { z } from 'zod';
import type { AsyncSigner } from '../attest/receipt.js';
import { type Signer, signerKeyObject } from '../core/ed25519.js';
import { describeError, OacpError } from '../core/errors.js';

export type SigningPoolErrorCode =
  | 'NODE_SIGNING_POOL_INVALID'
  | 'NODE_SIGNING_POOL_UNAVAILABLE'
  | 'NODE_SIGNING_POOL_FAILED'
  | 'NODE_SIGNING_POOL_CLOSED';

/**
 * The worker, as plain JavaScript run with `eval: true`: no file to locate, so it
 * runs the same from dist/ and under vitest/vite-node (which cannot hand a .ts
 * file to a worker). It receives a clone of the private KeyObject, announces the
 * public key it will sign for, then signs each batch of concatenated messages.
 */
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, sign } = require('node:crypto');
const key = workerData.key;
parentPort.postMessage({ type: 'ready', publicKey: createPublicKey(key).export({ format: 'jwk' }).x });
parentPort.on('message', (batch) => {
  const data = new Uint8Array(batch.data);
  const ends = batch.ends;
  const signatures = new Uint8Array(64 * ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    signatures.set(sign(null, data.subarray(start, ends[i]), key), 64 * i);
    start = ends[i];
  }
  parentPort.postMessage({ type: 'signed', id: batch.id, signatures }, [signatures.buffer]);
});
`;

const WorkersSchema = z.number().int().min(1).max(64);

/** Signatures per message to a worker: enough to amortize the crossing, few enough that callers are not held up. */
const MAX_BATCH = 32;

/**
 * Batches a worker may have unanswered: one being signed and one waiting behind it keep it busy
 * without a gap. Work asked for beyond that waits in the main thread and goes as one batch when
 * the worker answers, so a caller that signs one receipt per event-loop turn under load sends a
 * message per batch of receipts, not per receipt (and an idle worker still gets a lone
 * signature at once).
 */
const MAX_IN_FLIGHT = 2;

export interface SigningPoolOptions {
  /** Worker threads to start; one per core beyond the main thread's is the useful maximum. */
  readonly workers: number;
  /** Starts one worker; tests pass one that keeps a handle on it. Defaults to `new Worker(source, options)`. */
  readonly spawn?: (source: string, options: WorkerOptions) => Worker;
}

/** One worker per extra core (0 on a single core: sign in-thread there). */
export function defaultSigningWorkers(cores: number = availableParallelism()): number {
  return Math.max(0, cores - 1);
}

interface Job {
  readonly message: Uint8Array;
  readonly resolve: (signature: Uint8Array) => void;
  readonly reject: (error: unknown) => void;
}

interface Lane {
  readonly worker: Worker;
  /** Unanswered batches by id (at most MAX_IN_FLIGHT). */
  readonly batches: Map<number, Job[]>;
  pending: number;
}

/**
 * Ed25519 signatures from worker threads, for one key. Calls to `sign` made while
 * the main thread is busy are coalesced (until the event loop turns) into one
 * batch per worker, and while every worker has MAX_IN_FLIGHT batches unanswered,
 * until one answers; so a message crosses threads per batch, not per signature.
 * If a worker dies, every signature pending anywhere in the pool is refused with
 * NODE_SIGNING_POOL_FAILED and the pool refuses further work: nothing waits forever.
 */
export class SigningPool implements AsyncSigner {
  private queue: Job[] = [];
  private flushScheduled = false;
  private nextBatch = 0;
  private failure: OacpError<SigningPoolErrorCode> | undefined;
  private closing: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  private constructor(
    readonly publicKey: Uint8Array,
    private readonly lanes: readonly Lane[],
  ) {
    for (const lane of lanes) {
      lane.worker.on('message', (message: unknown) => this.onMessage(lane, message));
      lane.worker.on('messageerror', (error) =>
        this.fail(lane, `sent an unreadable message (${error.message})`),
      );
      lane.worker.on('error', (error) => this.fail(lane, `threw: ${describeError(error)}`));
      lane.worker.on('exit', (code) => this.fail(lane, `exited with code ${code}`));
      lane.worker.unref();
    }
  }

  /** Starts the workers and waits until each one has shown it holds the signer's key. */
  static async start(signer: Signer, options: SigningPoolOptions): Promise<SigningPool> {
    const workers = WorkersSchema.safeParse(options.workers);
    if (!workers.success) {
      throw new OacpError<SigningPoolErrorCode>(
        'NODE_SIGNING_POOL_INVALID',
        `a signing pool needs 1 to 64 workers, got ${String(options.workers)}`,
      );
    }
    const key = signerKeyObject(signer);
    if (key === undefined) {
      throw new OacpError<SigningPoolErrorCode>(
        'NODE_SIGNING_POOL_UNAVAILABLE',
        'this signer does not hold its key in memory (an HSM, say), so worker threads cannot sign for it',
      );
    }
    const spawn = options.spawn ?? ((source, workerOptions) => new Worker(source, workerOptions));
    const expected = Buffer.from(signer.publicKey).toString('base64url');
    const started: Worker[] = [];
    try {
      for (let i = 0; i < workers.data; i++) {
        started.push(spawn(WORKER_SOURCE, { eval: true, name: 'oacp-signing', workerData: { key } }));
      }
      await Promise.all(started.map((worker) => ready(worker, expected)));
    } catch (error) {
      await Promise.all(started.map((worker) => worker.terminate()));
      throw error;
    }
    const lanes = started.map((worker) => ({ worker, batches: new Map<number, Job[]>(), pending: 0 }));
    return new SigningPool(new Uint8Array(signer.publicKey), lanes);
  }

  /** Workers still running. */
  get size(): number {
    return this.failure !== undefined || this.closing !== undefined ? 0 : this.lanes.length;
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing !== undefined) return Promise.reject(closedError());
    if (!(message instanceof Uint8Array)) {
      return Promise.reject(
        new OacpError<SigningPoolErrorCode>('NODE_SIGNING_POOL_INVALID', 'a message to sign is a byte array'),
      );
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Signs what was already asked for, then stops the workers. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.flush();
      await new Promise<void>((resolve) => {
        if (this.pendingJobs() === 0) resolve();
        else this.idleWaiters.push(resolve);
      });
      await Promise.all(this.lanes.map((lane) => lane.worker.terminate()));
    })();
    return this.closing;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    if (this.failure !== undefined) {
      const jobs = this.queue;
      this.queue = [];
      for (const job of jobs) job.reject(this.failure);
      return;
    }
    // Small batches, each to the least busy worker that can take one: a caller waits for its
    // own batch only, so its receipt can go on to the log while the worker signs the next
    // batch. What no worker can take now stays queued until a worker answers (onMessage).
    while (this.queue.length > 0) {
      let lane: Lane | undefined;
      for (const other of this.lanes) {
        if (other.batches.size < MAX_IN_FLIGHT && (lane === undefined || other.pending < lane.pending))
          lane = other;
      }
      if (lane === undefined) return;
      this.send(lane, this.queue.splice(0, MAX_BATCH));
    }
  }

  private send(lane: Lane, jobs: Job[]): void {
    let total = 0;
    for (const job of jobs) total += job.message.length;
    const data = new Uint8Array(total);
    const ends = new Uint32Array(jobs.length);
    let offset = 0;
    jobs.forEach((job, i) => {
      data.set(job.message, offset);
      offset += job.message.length;
      ends[i] = offset;
    });
    const id = this.nextBatch++;
    lane.batches.set(id, jobs);
    if (lane.pending === 0) lane.worker.ref();
    lane.pending += jobs.length;
    lane.worker.postMessage({ id, data: data.buffer, ends }, [data.buffer, ends.buffer]);
  }

  private onMessage(lane: Lane, message: unknown): void {
    const signed = SignedSchema.safeParse(message);
    const jobs = signed.success ? lane.batches.get(signed.data.id) : undefined;
    if (!signed.success || jobs === undefined || signed.data.signatures.length !== 64 * jobs.length) {
      this.fail(lane, 'answered with something other than the signatures of a batch it was sent');
      return;
    }
    lane.batches.delete(signed.data.id);
    lane.pending -= jobs.length;
    if (lane.pending === 0) lane.worker.unref();
    const { signatures } = signed.data;
    jobs.forEach((job, i) => {
      job.resolve(signatures.slice(64 * i, 64 * i + 64));
    });
    this.flush();
    this.notifyIdle();
  }

  /** A worker stopped or misbehaved: refuse everything pending and everything after. */
  private fail(lane: Lane, what: string): void {
    if (this.failure !== undefined) return;
    if (this.closing !== undefined && this.pendingJobs() === 0) return; // terminated by close()
    const lost = this.pendingJobs();
    this.failure = new OacpError<SigningPoolErrorCode>(
      'NODE_SIGNING_POOL_FAILED',
      `signing worker ${lane.worker.threadId} ${what}; ${lost} pending signature(s) were not made and the pool is stopped (reopen the node to sign again)`,
    );
    const failure = this.failure;
    for (const each of this.lanes) {
      for (const jobs of each.batches.values()) for (const job of jobs) job.reject(failure);
      each.batches.clear();
      each.pending = 0;
      void each.worker.terminate();
    }
    for (const job of this.queue) job.reject(failure);
    this.queue = [];
    this.notifyIdle();
  }

  private pendingJobs(): number {
    return this.queue.length + this.lanes.reduce((sum, lane) => sum + lane.pending, 0);
  }

  private notifyIdle(): void {
    if (this.pendingJobs() !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const SignedSchema = z.object({
  type: z.literal('signed'),
  id: z.number().int(),
  signatures: z.instanceof(Uint8Array),
});

const ReadySchema = z.object({ type: z.literal('ready'), publicKey: z.string() });

/** Resolves when the worker announces the expected public key; rejects if it says another or dies first. */
function ready(worker: Worker, expected: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const refuse = (what: string) => {
      cleanup();
      reject(
        new OacpError<SigningPoolErrorCode>(
          'NODE_SIGNING_POOL_FAILED',
          `signing worker ${worker.threadId} did not start: ${what}`,
        ),
      );
    };
    const onMessage = (message: unknown) => {
      const parsed = ReadySchema.safeParse(message);
      if (!parsed.success) return refuse('its first message was not a ready announcement');
      if (parsed.data.publicKey !== expected) return refuse("it holds a key other than the signer's");
      cleanup();
      resolve();
    };
    const onError = (error: Error) => refuse(`it threw: ${describeError(error)}`);
    const onExit = (code: number) => refuse(`it exited with code ${code}`);
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

function closedError(): OacpError<SigningPoolErrorCode> {
  return new OacpError('NODE_SIGNING_POOL_CLOSED', 'the signing pool is closed');
}
