/** Milliseconds from an arbitrary origin, never going backwards. Injected so tests control time. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

/** A clock tests move by hand. */
export interface ManualClock {
  readonly now: Clock;
  advance(ms: number): void;
}

export function manualClock(start = 0): ManualClock {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      if (ms < 0) throw new RangeError('a clock does not go backwards');
      time += ms;
    },
  };
}
