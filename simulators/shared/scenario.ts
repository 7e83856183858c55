/**
 * One scenario runner for every simulator family: a family describes a plausible stream of its events as a table
 * of weighted actions, and the runner drives random actions from random devices at a steady rate.
 */

/** A frame as a device puts it on the wire. */
export type WireFrame = Record<string, unknown> & { seq: number; time: string; event: string };

export interface WeightedAction<Sim, Frame> {
  /** Relative weight; a family's weights need not sum to 1. */
  readonly weight: number;
  readonly run: (sim: Sim, random: () => number) => Promise<Frame>;
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Runs one action of the table, chosen by weight. */
export function runWeighted<Sim, Frame>(
  actions: readonly WeightedAction<Sim, Frame>[],
  sim: Sim,
  random: () => number = Math.random,
): Promise<Frame> {
  const total = actions.reduce((sum, action) => sum + action.weight, 0);
  let roll = random() * total;
  for (const action of actions) {
    roll -= action.weight;
    if (roll < 0) return action.run(sim, random);
  }
  const last = actions.at(-1);
  if (last === undefined) throw new Error('a scenario needs at least one action');
  return last.run(sim, random);
}

export interface ScenarioOptions<Sim, Frame> {
  /** Events per second across all simulators; 0 sends none (the devices only heartbeat) until the signal. */
  readonly rate: number;
  /** Stop after this many events (undefined: until the signal aborts). */
  readonly count?: number;
  readonly signal: AbortSignal;
  readonly random?: () => number;
  readonly onEvent?: (sim: Sim, frame: Frame) => void;
  readonly onError?: (sim: Sim, error: Error) => void;
}

/** Drives random events from random simulators at a steady rate until the count or the signal ends it. */
export async function runScenario<Sim, Frame>(
  sims: readonly Sim[],
  randomEvent: (sim: Sim, random: () => number) => Promise<Frame>,
  options: ScenarioOptions<Sim, Frame>,
): Promise<number> {
  const random = options.random ?? Math.random;
  if (options.rate <= 0 || sims.length === 0) {
    await aborted(options.signal);
    return 0;
  }
  const interval = 1000 / options.rate;
  let sent = 0;
  const started = performance.now();
  while (!options.signal.aborted && (options.count === undefined || sent < options.count)) {
    const sim = pick(random, sims);
    randomEvent(sim, random).then(
      (frame) => options.onEvent?.(sim, frame),
      (error: Error) => options.onError?.(sim, error),
    );
    sent++;
    // Schedule against the start time so the rate holds even when a publish is slow.
    const wait = started + sent * interval - performance.now();
    if (wait > 0) await sleep(wait, options.signal);
  }
  return sent;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits `ms`, or less when the signal aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
