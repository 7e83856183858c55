import type { DenyReason, GateFrame, GateSimulator } from './gate-simulator.ts';

/**
 * A plausible day at a compound's gates: mostly residents coming and going, some refusals, now and then a door
 * held or forced, rarely a tamper. Weights are per event; they sum to 1.
 */
const actions: readonly {
  weight: number;
  run: (sim: GateSimulator, random: () => number) => Promise<GateFrame>;
}[] = [
  {
    weight: 0.72,
    run: (sim, random) =>
      sim.grant({ door: door(random), direction: random() < 0.5 ? 'in' : 'out', card: card(random) }),
  },
  {
    weight: 0.14,
    run: (sim, random) =>
      sim.deny({ door: door(random), card: card(random), reason: pick(random, denyReasons) as DenyReason }),
  },
  { weight: 0.08, run: (sim, random) => sim.holdDoor(door(random), 60 + Math.floor(random() * 600)) },
  { weight: 0.04, run: (sim, random) => sim.forceDoor(door(random)) },
  {
    weight: 0.02,
    run: (sim, random) => sim.tamper(pick(random, ['enclosure', 'reader', 'wiring'] as const)),
  },
];

const denyReasons = ['UNKNOWN_CREDENTIAL', 'EXPIRED', 'OUT_OF_SCHEDULE', 'DISABLED'] as const;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function door(random: () => number): number {
  return 1 + Math.floor(random() * 2);
}

function card(random: () => number): string {
  return String(10_000_000 + Math.floor(random() * 89_999_999));
}

/** Sends one weighted-random event from the simulator. */
export function randomGateEvent(sim: GateSimulator, random: () => number = Math.random): Promise<GateFrame> {
  let roll = random();
  for (const action of actions) {
    roll -= action.weight;
    if (roll < 0) return action.run(sim, random);
  }
  return (actions[0] as (typeof actions)[number]).run(sim, random);
}

export interface ScenarioOptions {
  /** Events per second across all simulators. */
  readonly rate: number;
  /** Stop after this many events (undefined: until the signal aborts). */
  readonly count?: number;
  readonly signal: AbortSignal;
  readonly onEvent?: (sim: GateSimulator, frame: GateFrame) => void;
  readonly onError?: (sim: GateSimulator, error: Error) => void;
}

/** Drives random events from random simulators at a steady rate until the count or the signal ends it. */
export async function runGateScenario(
  sims: readonly GateSimulator[],
  options: ScenarioOptions,
): Promise<number> {
  const interval = 1000 / options.rate;
  let sent = 0;
  const started = performance.now();
  while (!options.signal.aborted && (options.count === undefined || sent < options.count)) {
    const sim = pick(Math.random, sims);
    randomGateEvent(sim).then(
      (frame) => options.onEvent?.(sim, frame),
      (error: Error) => options.onError?.(sim, error),
    );
    sent++;
    // Schedule against the start time so the rate holds even when a publish is slow.
    const wait = started + sent * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return sent;
}
