import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { constants, link, lstat, mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type ApprovalDesk, type ApprovalRequest, DecidedElsewhere } from './approval.js';
import { shownArguments } from './approval-shown.js';
import type { McpRunOptions } from './options.js';
import { qualifiedToolName } from './tool-names.js';

/** Where a standalone bridge's pending approvals wait under the OACP home, one pair of files per call. */
export function approvalSpoolDir(home: string): string {
  return join(home, 'approvals');
}

const REQUEST = '.request.json';
const DECISION = '.decision.json';
const MAX_FILE_BYTES = 256 * 1024;
/** Without inotify (some network file systems), how often a waiting bridge looks for its decision. */
const FALLBACK_POLL_MS = 1000;
/** A request file left by a bridge that died is removed this long after it expired. */
const PRUNE_AFTER_MS = 60_000;
/**
 * How long a bridge leaves a decision it took in the spool: the deciding gateway, checking after its
 * claim whether the request is still there, reads a request gone with its decision left as taken
 * (and one gone with its decision as withdrawn). Leftovers are pruned by listing after this.
 */
const TAKEN_GRACE_MS = 2_000;

export const SpooledRequestSchema = z.strictObject({
  version: z.literal(1),
  id: z.uuid(),
  since: z.iso.datetime(),
  expires: z.iso.datetime(),
  /** The bridge process waiting; a request whose bridge is gone is not listed. */
  pid: z.number().int().positive(),
  name: z.string().min(1).max(300),
  request: z.strictObject({
    callId: z.string().max(300),
    agent: z.string().max(500),
    server: z.string().min(1).max(100),
    tool: z.string().min(1).max(200),
    /** Only the fields the bridge's `approval_show_arguments` lets a person see. */
    arguments: z.record(z.string(), z.unknown()),
  }),
  /** Fields whose values the bridge withheld. */
  hidden: z.array(z.string().max(300)).max(10_000),
});
export type SpooledRequest = z.infer<typeof SpooledRequestSchema>;

export const SpooledDecisionSchema = z.strictObject({
  approved: z.boolean(),
  by: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
  at: z.iso.datetime(),
});
export type SpooledDecision = z.infer<typeof SpooledDecisionSchema>;

export type SpoolAnswer = 'decided' | 'unknown' | 'already-decided';

/**
 * The home's approval spool: a bridge (`oacp mcp run --require-approval`)
 * writes `<id>.request.json` and waits; a gateway on the same home lists the
 * requests in `GET /v1/approvals` and decides one by creating
 * `<id>.decision.json` with link(2), which fails when the file exists, so a
 * call is decided once: by an operator, or by the bridge's own timeout,
 * whichever comes first. Files are written whole (temp file, then rename or
 * link) with mode 0600 in a 0700 directory; whatever is read back is checked
 * with zod, and anything malformed is skipped (listing) or a deny (waiting).
 */
export class ApprovalSpool {
  constructor(
    readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async post(entry: SpooledRequest): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${entry.id}.${randomUUID()}.tmp`);
    await writeFile(tmp, JSON.stringify(SpooledRequestSchema.parse(entry)), { mode: 0o600, flag: 'wx' });
    await rename(tmp, join(this.dir, `${entry.id}${REQUEST}`));
  }

  /** Requests still waiting: not decided, not expired, their bridge alive. Leftovers of dead bridges are pruned. */
  async list(): Promise<SpooledRequest[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return [];
      throw error;
    }
    const decided = new Set(
      names.filter((n) => n.endsWith(DECISION)).map((n) => n.slice(0, -DECISION.length)),
    );
    const requested = new Set(
      names.filter((n) => n.endsWith(REQUEST)).map((n) => n.slice(0, -REQUEST.length)),
    );
    // Decisions whose request is gone (taken, and its bridge ended before removing them) go after a while.
    for (const id of decided) {
      if (requested.has(id)) continue;
      const path = join(this.dir, `${id}${DECISION}`);
      const stats = await lstat(path).catch(() => undefined);
      if (stats !== undefined && this.now().getTime() - stats.mtimeMs > TAKEN_GRACE_MS * 5)
        await unlinkQuietly(path);
    }
    const out: SpooledRequest[] = [];
    for (const name of names) {
      if (!name.endsWith(REQUEST)) continue;
      const id = name.slice(0, -REQUEST.length);
      if (decided.has(id)) continue;
      const entry = await this.#request(id);
      if (entry === undefined) continue;
      const now = this.now().getTime();
      const expires = Date.parse(entry.expires);
      const alive = processAlive(entry.pid);
      if (expires > now && alive) out.push(entry);
      else if (!alive || now - expires > PRUNE_AFTER_MS) await this.remove(id);
    }
    return out.sort((a, b) => a.since.localeCompare(b.since));
  }

  /** The request `id` if it is still waiting (what list() would show). */
  async waiting(id: string): Promise<SpooledRequest | undefined> {
    return (await this.list()).find((entry) => entry.id === id);
  }

  /** Records the decision unless one exists; 'unknown' when no such request waits. */
  async decide(id: string, decision: Omit<SpooledDecision, 'at'>): Promise<SpoolAnswer> {
    if (!z.uuid().safeParse(id).success || (await this.waiting(id)) === undefined) return 'unknown';
    const won = await this.claim(id, decision);
    if (!won) return 'already-decided';
    if ((await this.#request(id)) !== undefined) return 'decided';
    // Gone already: taken by the bridge (which leaves the decision for a while, see `taken`), or
    // withdrawn by it (its timeout or the call's cancellation, which removes the decision first):
    // then the decision reached nobody.
    return (await readSmall(join(this.dir, `${id}${DECISION}`)).catch(() => undefined)) === undefined
      ? 'unknown'
      : 'decided';
  }

  /** Creates the decision file if there is none yet; false when someone decided first. */
  async claim(id: string, decision: Omit<SpooledDecision, 'at'>): Promise<boolean> {
    const body = SpooledDecisionSchema.parse({ ...decision, at: this.now().toISOString() });
    const tmp = join(this.dir, `.${id}.${randomUUID()}.tmp`);
    await writeFile(tmp, JSON.stringify(body), { mode: 0o600, flag: 'wx' });
    try {
      await link(tmp, join(this.dir, `${id}${DECISION}`));
      return true;
    } catch (error) {
      if (codeOf(error) === 'EEXIST') return false;
      throw error;
    } finally {
      await unlinkQuietly(tmp);
    }
  }

  /** The decision on `id`, undefined while there is none; a malformed one is an error (the caller denies). */
  async decision(id: string): Promise<SpooledDecision | undefined> {
    const text = await readSmall(join(this.dir, `${id}${DECISION}`));
    if (text === undefined) return undefined;
    const parsed = SpooledDecisionSchema.safeParse(parseJson(text));
    if (!parsed.success) throw new Error(`the decision file for approval ${id} is malformed`);
    return parsed.data;
  }

  async remove(id: string): Promise<void> {
    await unlinkQuietly(join(this.dir, `${id}${REQUEST}`));
    await unlinkQuietly(join(this.dir, `${id}${DECISION}`));
  }

  /** The bridge took the decision: the request goes now, the decision after TAKEN_GRACE_MS (see `decide`). */
  async taken(id: string): Promise<void> {
    await unlinkQuietly(join(this.dir, `${id}${REQUEST}`));
    setTimeout(() => void unlinkQuietly(join(this.dir, `${id}${DECISION}`)), TAKEN_GRACE_MS).unref();
  }

  /** The bridge gave up on a request someone else decided first: the decision goes before the request (see `decide`). */
  async withdraw(id: string): Promise<void> {
    await unlinkQuietly(join(this.dir, `${id}${DECISION}`));
    await unlinkQuietly(join(this.dir, `${id}${REQUEST}`));
  }

  async #request(id: string): Promise<SpooledRequest | undefined> {
    if (!z.uuid().safeParse(id).success) return undefined;
    const text = await readSmall(join(this.dir, `${id}${REQUEST}`)).catch(() => undefined);
    if (text === undefined) return undefined;
    const parsed = SpooledRequestSchema.safeParse(parseJson(text));
    return parsed.success && parsed.data.id === id ? parsed.data : undefined;
  }
}

/**
 * A standalone bridge's approvals, decided from a gateway on the same home
 * (the console): the request goes into the spool with only the arguments
 * `show` lets a person see, and the bridge waits for the decision file,
 * woken by inotify (fs.watch on the spool directory), polling once a second
 * only where watching fails. A timeout or cancellation claims the decision
 * first, so no operator can approve a call that was already denied.
 */
export class HomeApprovalDesk implements ApprovalDesk {
  readonly method = 'http' as const;

  constructor(
    private readonly spool: ApprovalSpool,
    private readonly options: {
      readonly show: readonly string[];
      readonly timeoutMs: number;
      readonly now?: () => Date;
    },
  ) {}

  decide(
    request: ApprovalRequest,
    signal: AbortSignal,
  ): Promise<{ approved: boolean; by: string; reason?: string }> {
    const spool = this.spool;
    const id = randomUUID();
    const since = (this.options.now ?? (() => new Date()))();
    const view = shownArguments(request.arguments, this.options.show);
    const entry: SpooledRequest = {
      version: 1,
      id,
      since: since.toISOString(),
      expires: new Date(since.getTime() + this.options.timeoutMs).toISOString(),
      pid: process.pid,
      name: qualifiedToolName(request.server, request.tool),
      request: {
        callId: request.callId,
        agent: request.agent,
        server: request.server,
        tool: request.tool,
        arguments: view.arguments,
      },
      hidden: [...view.hidden],
    };
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      let settled = false;
      let watcher: FSWatcher | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        settled = true;
        watcher?.close();
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const poll = () => {
        timer ??= setInterval(() => void check(), FALLBACK_POLL_MS);
      };
      const check = async () => {
        if (settled) return;
        let decision: SpooledDecision | undefined;
        try {
          decision = await spool.decision(id);
        } catch (error) {
          if (settled) return;
          finish();
          void spool.remove(id).catch(() => undefined);
          reject(error);
          return;
        }
        if (decision === undefined || settled) return;
        finish();
        void spool.taken(id).catch(() => undefined);
        resolve({
          approved: decision.approved,
          by: decision.by,
          ...(decision.reason === undefined ? {} : { reason: decision.reason }),
        });
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        reject(signal.reason);
        void spool
          .claim(id, { approved: false, by: 'timeout' })
          .catch(() => false)
          .then((won) => (won ? spool.remove(id) : spool.withdraw(id)))
          .catch(() => undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      spool.post(entry).then(
        () => {
          if (settled) return void spool.remove(id).catch(() => undefined);
          try {
            watcher = watch(spool.dir, { persistent: false }, (_event, name) => {
              if (name === null || name.startsWith(id)) void check();
            });
            watcher.on('error', () => {
              watcher?.close();
              poll();
            });
          } catch {
            poll();
          }
          void check();
        },
        (error: unknown) => {
          if (settled) return;
          finish();
          reject(error);
        },
      );
    });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM';
  }
}

async function readSmall(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_FILE_BYTES) throw new Error(`${path} is larger than ${MAX_FILE_BYTES} bytes`);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/**
 * Asks every desk at once (the bridge's own endpoint or terminal, and the
 * home's spool for the console): the first answer decides, and the others
 * are withdrawn. Each answer says which desk gave it, for the receipt.
 */
export class FirstAnswerDesk implements ApprovalDesk {
  readonly method: 'http' | 'terminal';

  constructor(private readonly desks: readonly ApprovalDesk[]) {
    this.method = desks[0]?.method ?? 'http';
  }

  async decide(
    request: ApprovalRequest,
    signal: AbortSignal,
  ): Promise<{ approved: boolean; by: string; reason?: string; method: 'http' | 'terminal' }> {
    const withdraw = new AbortController();
    const both = AbortSignal.any([signal, withdraw.signal]);
    try {
      return await Promise.any(
        this.desks.map(async (desk) => ({ ...(await desk.decide(request, both)), method: desk.method })),
      );
    } catch (error) {
      throw error instanceof AggregateError ? (error.errors[0] ?? error) : error;
    } finally {
      withdraw.abort(new DecidedElsewhere());
    }
  }
}

/** A bridge's approval desk: its own (endpoint or terminal) when it has one, and always the home's spool. */
export function bridgeApprovalDesk(
  home: string,
  options: Pick<McpRunOptions, 'approvalTimeout' | 'approvalShowArguments'>,
  local: ApprovalDesk | undefined,
): ApprovalDesk {
  const spooled = new HomeApprovalDesk(new ApprovalSpool(approvalSpoolDir(home)), {
    show: options.approvalShowArguments,
    timeoutMs: options.approvalTimeout,
  });
  return local === undefined ? spooled : new FirstAnswerDesk([local, spooled]);
}
