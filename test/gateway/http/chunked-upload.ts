import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface UploadResult {
  /** The status line's code, or 0 when the server closed without answering. */
  readonly status: number;
  /** Body bytes written before the server answered or closed. */
  readonly sent: number;
  /** The answer's text (headers and as much body as arrived). */
  readonly response: string;
}

/**
 * POSTs `total` bytes with Transfer-Encoding: chunked over a raw socket,
 * honouring backpressure, and stops writing as soon as the server answers or
 * closes: what an attacker streaming an endless body sees.
 */
export function chunkedUpload(
  url: URL,
  path: string,
  headers: Record<string, string>,
  total: number,
  options: { chunkBytes?: number; fill?: number } = {},
): Promise<UploadResult> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let response = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
      resolve({ status, sent, response });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      response += chunk;
      // The whole answer is small; give it a moment to arrive in full.
      if (/\r\n\r\n/.test(response)) setTimeout(finish, 50);
    });
    socket.on('error', finish);
    socket.on('close', () => setTimeout(finish, 20));
    const payload = Buffer.alloc(chunkBytes, options.fill ?? 0x20);
    const frame = Buffer.concat([
      Buffer.from(`${chunkBytes.toString(16)}\r\n`),
      payload,
      Buffer.from('\r\n'),
    ]);
    const write = () => {
      while (!done && sent < total) {
        sent += chunkBytes;
        if (!socket.write(frame)) return void socket.once('drain', write);
      }
      if (!done) socket.write('0\r\n\r\n');
    };
    socket.on('connect', () => {
      const lines = [
        `POST ${path} HTTP/1.1`,
        `Host: ${url.host}`,
        'Content-Type: application/json',
        'Transfer-Encoding: chunked',
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      write();
    });
  });
}

/** Resident memory of a process, in bytes, from /proc (read from outside the process). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for ${pid}`);
  return kib * 1024;
}

/** Runs `work` while sampling the process's RSS every few milliseconds; the highest sample minus the first. */
export async function rssGrowthDuring<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ result: T; growth: number }> {
  const before = residentBytes(pid);
  let peak = before;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, residentBytes(pid));
    } catch {
      // The process exited: the caller's assertions say so.
    }
  }, 5);
  try {
    const result = await work();
    peak = Math.max(peak, residentBytes(pid));
    return { result, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}
