import {
  pick,
  runScenario,
  runWeighted,
  type ScenarioOptions,
  type WeightedAction,
} from '../shared/scenario.ts';
import type { DenyReason, GateFrame, GateSimulator } from './gate-simulator.ts';

/**
 * A plausible day at a compound's gates: mostly residents and their cars coming and going, some refusals, now and
 * then a door held or forced, a tailgater or a passed-back card, rarely a blacklist match or a tamper.
 * Weights are relative.
 */
const actions: readonly WeightedAction<GateSimulator, GateFrame>[] = [
  {
    weight: 0.56,
    run: (sim, random) =>
      sim.grant({ door: door(sim, random), direction: random() < 0.5 ? 'in' : 'out', card: card(random) }),
  },
  { weight: 0.08, run: (sim, random) => sim.vehicleEntry(vehicle(random)) },
  { weight: 0.08, run: (sim, random) => sim.vehicleExit(vehicle(random)) },
  {
    weight: 0.12,
    run: (sim, random) =>
      sim.deny({
        door: door(sim, random),
        card: card(random),
        reason: pick(random, denyReasons) as DenyReason,
      }),
  },
  { weight: 0.06, run: (sim, random) => sim.holdDoor(door(sim, random), 60 + Math.floor(random() * 600)) },
  { weight: 0.03, run: (sim, random) => sim.forceDoor(door(sim, random)) },
  {
    weight: 0.03,
    run: (sim, random) => sim.tailgate({ door: door(sim, random), followers: 1 + Math.floor(random() * 3) }),
  },
  { weight: 0.02, run: (sim, random) => sim.antiPassback({ door: door(sim, random), card: card(random) }) },
  {
    weight: 0.01,
    run: (sim, random) =>
      random() < 0.5
        ? sim.blacklisted({ door: door(sim, random), type: 'plate', number: plate(random) })
        : sim.blacklisted({ door: door(sim, random), type: 'card', number: card(random) }),
  },
  {
    weight: 0.01,
    run: (sim, random) => sim.tamper(pick(random, ['enclosure', 'reader', 'wiring'] as const)),
  },
];

const denyReasons = ['UNKNOWN_CREDENTIAL', 'EXPIRED', 'OUT_OF_SCHEDULE', 'DISABLED'] as const;
const plateAreas = ['京A', '京B', '京N', '冀C'] as const;

function door(sim: GateSimulator, random: () => number): number {
  return 1 + Math.floor(random() * sim.doorCount);
}

function card(random: () => number): string {
  return String(10_000_000 + Math.floor(random() * 89_999_999));
}

function plate(random: () => number): string {
  return `${pick(random, plateAreas)}${String(10_000 + Math.floor(random() * 89_999))}`;
}

function vehicle(random: () => number): { lane: number; plate: string; barrier: 'opened' | 'held' } {
  return {
    lane: 1 + Math.floor(random() * 2),
    plate: plate(random),
    barrier: random() < 0.9 ? 'opened' : 'held',
  };
}

/** Sends one weighted-random event from the simulator. */
export function randomGateEvent(sim: GateSimulator, random: () => number = Math.random): Promise<GateFrame> {
  return runWeighted(actions, sim, random);
}

/** Drives random gate events from random controllers at a steady rate until the count or the signal ends it. */
export function runGateScenario(
  sims: readonly GateSimulator[],
  options: ScenarioOptions<GateSimulator, GateFrame>,
): Promise<number> {
  return runScenario(sims, randomGateEvent, options);
}
