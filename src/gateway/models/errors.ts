import { OacpError } from '../../core/errors.js';

/**
 * Why the model gateway could not take a request as it came: the model domain's codes, so a caller
 * switches on `code` rather than on a class or a message.
 */
export type ModelsErrorCode =
  /** A `tools` entry (or `functions`, `web_search_options`, `mcp_servers`) whose kind cannot be told: refused, HTTP 400. */
  'MODELS_TOOLS_UNREADABLE';

/** A model request the gateway refuses before sending it, naming the field at fault. */
export class ModelsError extends OacpError<ModelsErrorCode> {
  constructor(code: ModelsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ModelsError';
  }
}
