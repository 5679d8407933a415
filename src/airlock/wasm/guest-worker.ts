import { parentPort, workerData } from 'node:worker_threads';
import { describeError, OacpError } from '../../core/errors.js';
import { GuestRunner } from './guest-runner.js';
import { type ModulePoolOptions, QuickJsModulePool } from './module-pool.js';
import { SliceBoard } from './slice-board.js';
import { currentThreadId, ownThreadCpuClock } from './thread-cpu.js';
import type { FromGuestThread, ToGuestThread } from './thread-protocol.js';

/**
 * Entry point of a guest thread (a worker_threads Worker). It holds a
 * QuickJS module pool and the guests placed on this thread, and does only
 * what the gateway's thread asks. Guest code runs here and only here, so a
 * guest stuck in a native built-in blocks this thread, never the gateway's.
 */
interface GuestThreadData {
  readonly board: SharedArrayBuffer;
  readonly pool: ModulePoolOptions;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('guest-worker.ts runs only as a worker thread');
  const data = workerData as GuestThreadData;
  const board = new SliceBoard(data.board);
  const send = (message: FromGuestThread) => port.postMessage(message);
  const pool = await QuickJsModulePool.create(data.pool, (message) => send({ type: 'engine', message }));
  const guests = new Map<number, GuestRunner>();
  const threadCpu = ownThreadCpuClock();

  const create = async (message: Extract<ToGuestThread, { type: 'create' }>) => {
    const { guest } = message;
    try {
      const lease = await pool.lease(message.memoryBytes);
      try {
        const outbox = {
          call: (call: number, kind: string, payload: string) =>
            send({ type: 'call', guest, call, kind, payload }),
          log: (payload: string) => send({ type: 'log', guest, payload }),
        };
        const limits = { memoryBytes: message.memoryBytes, stackBytes: message.stackBytes };
        guests.set(
          guest,
          new GuestRunner(lease, limits, message.grants, board.watch(guest), outbox, threadCpu),
        );
      } catch (error) {
        lease.release();
        throw error;
      }
      send({ type: 'created', guest, stats: pool.stats() });
    } catch (error) {
      const code = error instanceof OacpError ? error.code : 'WASM_UNAVAILABLE';
      send({
        type: 'refused',
        guest,
        code,
        message: error instanceof Error ? error.message : describeError(error),
      });
    }
  };

  port.on('message', (message: ToGuestThread) => {
    if (message.type === 'create') {
      void create(message);
      return;
    }
    const runner = guests.get(message.guest);
    if (runner === undefined) return;
    switch (message.type) {
      case 'run':
        void runner.run(message).then((outcome) => {
          const { failure, text, oversizedResultBytes } = outcome;
          send({
            type: 'done',
            guest: message.guest,
            cpuMs: outcome.cpuMs,
            memoryBytes: outcome.memoryBytes,
            stats: pool.stats(),
            ...(text === undefined ? {} : { text }),
            ...(oversizedResultBytes === undefined ? {} : { oversizedResultBytes }),
            ...(failure === undefined ? {} : { failure }),
          });
        });
        return;
      case 'answer':
        runner.answer(message.call, message.value, message.error);
        return;
      case 'kill':
        runner.kill(message.code, message.message);
        return;
      case 'stop':
        guests.delete(message.guest);
        void runner
          .stop()
          .finally(() => send({ type: 'stopped', guest: message.guest, stats: pool.stats() }));
        return;
    }
  });
  const tid = currentThreadId();
  send(tid === undefined ? { type: 'ready' } : { type: 'ready', tid });
}

void main();
