import { OacpError } from '../../core/errors.js';

/**
 * Why the model gateway could not take a request as it came: the model domain's codes, so a caller
 * switches on `code` rather than on a class or a message.
 */
export type ModelsErrorCode =
  /** A `tools` entry (or `functions`, `web_search_options`, `mcp_servers`) whose kind cannot be told: refused, HTTP 400. */
  | 'MODELS_TOOLS_UNREADABLE'
  /** A request that cannot be carried to a provider of the other wire format: refused, HTTP 400. */
  | 'MODELS_UNTRANSLATABLE'
  /** A batch upload, or a batch naming one, that is malformed: refused, HTTP 400, naming the field. */
  | 'MODELS_BATCH_FILE_REFUSED'
  /** An upload that would take the agent's stored files past `models.file_bytes_per_agent`: HTTP 413. */
  | 'MODELS_BATCH_FILES_FULL'
  /** A provider's batch API refused a call or answered something unreadable (already redacted of keys). */
  | 'MODELS_BATCH_API';

/** A model request the gateway refuses before sending it, naming the field at fault. */
export class ModelsError extends OacpError<ModelsErrorCode> {
  constructor(code: ModelsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ModelsError';
  }
}
