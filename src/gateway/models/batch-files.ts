import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseBoundedJson } from '../../core/bounded-json.js';
import { type BatchCreate, BatchEndpointSchema, type BatchRequest, MAX_BATCH_ITEMS } from './batch.js';
import type { BatchFileStore } from './batch-file-store.js';
import { ModelsError } from './errors.js';

/** One line of an uploaded batch input, in OpenAI's shape. */
const InputLineSchema = z.strictObject({
  custom_id: z.string().min(1).max(64),
  method: z.literal('POST', { error: 'expected POST' }),
  url: BatchEndpointSchema,
  body: z.record(z.string(), z.unknown(), { error: 'expected a JSON object' }),
});

/** OpenAI's file object for an uploaded batch input. */
export interface FileObject {
  readonly id: string;
  readonly object: 'file';
  readonly bytes: number;
  readonly created_at: number;
  readonly filename: string;
  readonly purpose: 'batch';
  readonly status: 'processed';
  readonly status_details: null;
}

/** What an upload, or a batch naming one, did wrong: the field to fix and why. */
export class BatchFileRefused extends ModelsError {
  constructor(
    readonly field: 'purpose' | 'file' | 'input_file_id',
    message: string,
  ) {
    super('MODELS_BATCH_FILE_REFUSED', `${field}: ${message}`);
  }
}

/** An upload that would take the agent's stored files past `models.file_bytes_per_agent` (a 413). */
export class BatchFilesFull extends ModelsError {
  constructor(message: string) {
    super('MODELS_BATCH_FILES_FULL', message);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LINE_DEPTH = 64;

/** The requests of a batch input file: JSONL, 1 to MAX_BATCH_ITEMS lines, one endpoint for all. */
export function parseBatchInput(bytes: Uint8Array): {
  readonly endpoint: BatchRequest['endpoint'];
  readonly requests: BatchRequest['requests'];
} {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new BatchFileRefused('file', 'the file is not UTF-8 text');
  }
  const lines = text.split('\n').filter((line) => line.trim().length > 0);
  if (lines.length === 0)
    throw new BatchFileRefused('file', 'the file has no requests (one JSON object a line)');
  if (lines.length > MAX_BATCH_ITEMS) {
    throw new BatchFileRefused(
      'file',
      `the file has ${lines.length} lines; a batch holds at most ${MAX_BATCH_ITEMS}`,
    );
  }
  const requests: { custom_id: string; body: Record<string, unknown> }[] = [];
  const ids = new Set<string>();
  let endpoint: BatchRequest['endpoint'] | undefined;
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}`;
    const json = parseBoundedJson(line, LINE_DEPTH, where);
    if (!json.ok) throw new BatchFileRefused('file', json.reason);
    const parsed = InputLineSchema.safeParse(json.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BatchFileRefused(
        'file',
        `${where}: ${issue?.path.map(String).join('.') || 'line'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    if (endpoint !== undefined && parsed.data.url !== endpoint) {
      throw new BatchFileRefused(
        'file',
        `${where}: url ${parsed.data.url} differs from ${endpoint}; one endpoint a file`,
      );
    }
    if (ids.has(parsed.data.custom_id)) {
      throw new BatchFileRefused('file', `${where}: custom_id "${parsed.data.custom_id}" is used twice`);
    }
    ids.add(parsed.data.custom_id);
    endpoint = parsed.data.url;
    requests.push({ custom_id: parsed.data.custom_id, body: parsed.data.body });
  }
  if (endpoint === undefined) throw new BatchFileRefused('file', 'the file has no requests');
  return { endpoint, requests };
}

/**
 * Uploaded batch inputs (`POST /v1/files`, purpose `batch`), kept in the
 * store (`model_files`), so every node of a cluster reads them; each is its
 * uploading agent's alone.
 */
export class BatchFiles {
  constructor(
    private readonly store: BatchFileStore,
    /** Bytes of files one agent may keep (`models.file_bytes_per_agent`). */
    private readonly maxBytesPerAgent: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Checks and stores an upload; a refusal names the form field to fix. */
  async upload(agentId: string, purpose: unknown, file: unknown): Promise<FileObject> {
    if (purpose !== 'batch') {
      throw new BatchFileRefused(
        'purpose',
        'expected "batch" (the only purpose the gateway keeps files for)',
      );
    }
    if (!(file instanceof Blob)) throw new BatchFileRefused('file', 'expected a file part in the form');
    const bytes = new Uint8Array(await file.arrayBuffer());
    parseBatchInput(bytes);
    const kept = await this.store.bytes(agentId);
    if (kept + bytes.length > this.maxBytesPerAgent) {
      throw new BatchFilesFull(
        `models.file_bytes_per_agent: this file (${bytes.length} bytes) would take your stored batch files to ${kept + bytes.length} bytes, over the limit of ${this.maxBytesPerAgent}`,
      );
    }
    const date = this.now();
    const object: FileObject = {
      id: `file-${randomBytes(12).toString('hex')}`,
      object: 'file',
      bytes: bytes.length,
      created_at: Math.floor(date.getTime() / 1000),
      filename: (file instanceof File ? file.name : 'input.jsonl').slice(0, 255),
      purpose: 'batch',
      status: 'processed',
      status_details: null,
    };
    await this.store.insert({
      id: object.id,
      agentId,
      object: JSON.stringify(object),
      content: UTF8.decode(bytes),
      createdAt: date.toISOString(),
    });
    return object;
  }

  /** The agent's file object; another agent's (or an unknown) id is undefined. */
  async get(agentId: string, id: string): Promise<FileObject | undefined> {
    const row = await this.store.get(agentId, id);
    return row === undefined ? undefined : (JSON.parse(row.object) as FileObject);
  }

  /** The file's JSONL as uploaded. */
  async content(agentId: string, id: string): Promise<string | undefined> {
    return (await this.store.get(agentId, id))?.content;
  }

  /** A batch's request read from the agent's file `id`, for `endpoint`; a refusal names `input_file_id`. */
  async requestFor(agentId: string, id: string, request: BatchCreate): Promise<BatchRequest> {
    const content = await this.content(agentId, id);
    if (content === undefined) {
      throw new BatchFileRefused('input_file_id', `file ${id} is not one of your uploaded batch files`);
    }
    const input = parseBatchInput(new TextEncoder().encode(content));
    if (input.endpoint !== request.endpoint) {
      throw new BatchFileRefused(
        'input_file_id',
        `file ${id} holds requests for ${input.endpoint}, not for the batch's endpoint ${request.endpoint}`,
      );
    }
    return { ...request, requests: input.requests };
  }
}
