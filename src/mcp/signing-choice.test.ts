import { describe, expect, it } from 'vitest';
import { bridgeSigningWorkers } from './signing-choice.js';

describe('bridgeSigningWorkers', () => {
  it('signs on the event loop on 1 or 2 cores (measured faster there) and starts one worker from 3 cores', () => {
    expect([1, 2, 3, 4, 64].map((cores) => bridgeSigningWorkers(cores))).toEqual([0, 0, 1, 1, 1]);
  });
});
