import { randomBytes } from 'node:crypto';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, type Signer, signerKeyObject, verifyEd25519 } from '../core/ed25519.js';
import { defaultSigningWorkers, SigningPool } from './signing-pool.js';

const signer = keySigner(generateEd25519().privateKey);
const opened: SigningPool[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((pool) => pool.close()));
});

async function start(
  workers: number,
  spawn?: (source: string, options: WorkerOptions) => Worker,
): Promise<SigningPool> {
  const pool = await SigningPool.start(signer, spawn === undefined ? { workers } : { workers, spawn });
  opened.push(pool);
  return pool;
}

/** Spawns real workers and keeps them, so a test can watch them exit. */
function keepingWorkers(kept: Worker[], edit: (source: string) => string = (source) => source) {
  return (source: string, options: WorkerOptions): Worker => {
    const worker = new Worker(edit(source), options);
    kept.push(worker);
    return worker;
  };
}

/** Worker source where the batch handler starts with `statement`: a worker that breaks on its first batch. */
function breakOnFirstBatch(statement: string) {
  return (source: string): string => {
    const handler = "parentPort.on('message', (batch) => {";
    if (!source.includes(handler)) throw new Error('the worker source changed: update this test');
    return source.replace(handler, `${handler} ${statement};`);
  };
}

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

describe('SigningPool', () => {
  it('makes Ed25519 signatures that verify, identical to signing in-thread', async () => {
    const pool = await start(2);
    expect(pool.size).toBe(2);
    const messages = Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i % 97) * 11));
    const signatures = await Promise.all(messages.map((message) => pool.sign(message)));
    signatures.forEach((signature, i) => {
      const message = messages[i] as Buffer;
      expect(signature).toHaveLength(64);
      expect(verifyEd25519(signer.publicKey, message, signature)).toBe(true);
      // Ed25519 is deterministic: the workers hold exactly the signer's key.
      expect(Buffer.from(signature)).toEqual(Buffer.from(signer.sign(message)));
    });
    expect(verifyEd25519(signer.publicKey, Buffer.from('another message'), signatures[0] as Uint8Array)).toBe(
      false,
    );
  });

  it('sends work asked for one event-loop turn at a time in batches while the worker is busy', async () => {
    const workers: Worker[] = [];
    const pool = await start(1, keepingWorkers(workers));
    const worker = workers[0] as Worker;
    let messages = 0;
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (...args: Parameters<Worker['postMessage']>) => {
      messages += 1;
      post(...args);
    };
    const pending: Array<Promise<Uint8Array>> = [];
    for (let i = 0; i < 200; i += 1) {
      pending.push(pool.sign(Buffer.from(`turn ${i}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const signatures = await Promise.all(pending);
    signatures.forEach((signature, i) => {
      expect(verifyEd25519(signer.publicKey, Buffer.from(`turn ${i}`), signature)).toBe(true);
    });
    // One message per signature before: each turn's flush found only its own job.
    expect(messages).toBeLessThan(100);
  });

  it('signs empty and large messages', async () => {
    const pool = await start(1);
    for (const message of [new Uint8Array(0), randomBytes(200_000)]) {
      expect(verifyEd25519(signer.publicKey, message, await pool.sign(message))).toBe(true);
    }
  });

  it('finishes what was asked, then terminates every worker on close', async () => {
    const workers: Worker[] = [];
    const pool = await start(2, keepingWorkers(workers));
    const exits = workers.map(exited);
    const pending = Array.from({ length: 100 }, (_, i) => pool.sign(Buffer.from(`message ${i}`)));
    await pool.close();
    expect(await Promise.all(exits)).toHaveLength(2);
    expect(pool.size).toBe(0);
    const signatures = await Promise.all(pending);
    expect(
      signatures.every((signature, i) =>
        verifyEd25519(signer.publicKey, Buffer.from(`message ${i}`), signature),
      ),
    ).toBe(true);
    await expect(pool.sign(Buffer.from('late'))).rejects.toMatchObject({ code: 'NODE_SIGNING_POOL_CLOSED' });
  });

  it('fails pending signatures with a clear error when a worker dies, and refuses work after', async () => {
    const pool = await start(1, keepingWorkers([], breakOnFirstBatch('process.exit(3)')));
    const pending = Array.from({ length: 50 }, (_, i) => pool.sign(Buffer.from(`message ${i}`)));
    const results = await Promise.allSettled(pending);
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    const reason = (results[0] as PromiseRejectedResult).reason as Error & { code: string };
    expect(reason.code).toBe('NODE_SIGNING_POOL_FAILED');
    expect(reason.message).toMatch(/exited with code 3; 50 pending signature\(s\) were not made/);
    expect(pool.size).toBe(0);
    await expect(pool.sign(Buffer.from('after'))).rejects.toMatchObject({ code: 'NODE_SIGNING_POOL_FAILED' });
  });

  it('fails every worker’s pending signatures when one worker throws', async () => {
    const workers: Worker[] = [];
    const pool = await start(2, keepingWorkers(workers, breakOnFirstBatch("throw new Error('boom')")));
    const exits = workers.map(exited);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => pool.sign(Buffer.from(`message ${i}`))),
    );
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'NODE_SIGNING_POOL_FAILED',
      message: expect.stringMatching(/threw: boom/),
    });
    // The other worker is stopped too: nothing is left running or waiting.
    await Promise.all(exits);
  });

  it('refuses to start when a worker dies or holds another key', async () => {
    await expect(
      SigningPool.start(signer, {
        workers: 1,
        spawn: (_source, options) => new Worker("throw new Error('no start')", options),
      }),
    ).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_FAILED',
      message: expect.stringMatching(/did not start/),
    });
    const other = generateEd25519().privateKey;
    await expect(
      SigningPool.start(signer, {
        workers: 2,
        spawn: (source, options) => new Worker(source, { ...options, workerData: { key: other } }),
      }),
    ).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_FAILED',
      message: expect.stringMatching(/holds a key other than the signer's/),
    });
  });

  it.each([0, -1, 1.5, 65, Number.NaN])('refuses %s workers', async (workers) => {
    await expect(SigningPool.start(signer, { workers })).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_INVALID',
    });
  });

  it('refuses a signer whose key is not in memory', async () => {
    const hsm: Signer = { publicKey: signer.publicKey, sign: (message) => signer.sign(message) };
    await expect(SigningPool.start(hsm, { workers: 1 })).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_UNAVAILABLE',
    });
  });

  it('refuses to sign something other than bytes', async () => {
    const pool = await start(1);
    await expect(pool.sign('text' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'NODE_SIGNING_POOL_INVALID',
    });
  });

  it('uses one worker per core beyond the first', () => {
    expect(defaultSigningWorkers(1)).toBe(0);
    expect(defaultSigningWorkers(2)).toBe(1);
    expect(defaultSigningWorkers(8)).toBe(7);
  });
});

describe('signerKeyObject', () => {
  it('hands on the key of a keySigner only, never through copies or serialization', () => {
    const key = signerKeyObject(signer);
    expect(key?.type).toBe('private');
    expect(signerKeyObject({ ...signer })).toBeUndefined();
    expect(signerKeyObject({ publicKey: signer.publicKey, sign: signer.sign })).toBeUndefined();
    const seed = key?.export({ format: 'jwk' }).d;
    expect(seed).toBeDefined();
    expect(JSON.stringify(signer)).not.toContain(String(seed));
    expect(Object.keys(signer).sort()).toEqual(['publicKey', 'sign']);
  });
});
