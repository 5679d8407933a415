import { describe, expect, it } from 'vitest';
import { isOacpError } from '../../core/errors.js';
import { BatchApiError } from './batch-api.js';
import { BatchFileRefused, BatchFilesFull } from './batch-files.js';
import { translateRequest } from './translate.js';

describe("the model gateway's refusals carry the domain's codes", () => {
  it('a request that cannot be translated is refused with MODELS_UNTRANSLATABLE, naming the field', () => {
    let thrown: unknown;
    try {
      translateRequest('anthropic', { model: 'm', n: 2, messages: [{ role: 'user', content: 'hi' }] });
    } catch (error) {
      thrown = error;
    }
    expect(isOacpError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'MODELS_UNTRANSLATABLE', message: expect.stringContaining('`n`') });
  });

  it('batch refusals: each an OacpError with its own code', () => {
    expect(new BatchFileRefused('purpose', 'must be "batch"')).toMatchObject({
      code: 'MODELS_BATCH_FILE_REFUSED',
      field: 'purpose',
      message: 'purpose: must be "batch"',
    });
    expect(new BatchFilesFull('over the limit')).toMatchObject({ code: 'MODELS_BATCH_FILES_FULL' });
    expect(new BatchApiError('no batch id')).toMatchObject({ code: 'MODELS_BATCH_API' });
    for (const error of [new BatchFilesFull('x'), new BatchApiError('y')])
      expect(isOacpError(error)).toBe(true);
  });
});
