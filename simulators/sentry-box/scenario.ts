import {
  pick,
  runScenario,
  runWeighted,
  type ScenarioOptions,
  type WeightedAction,
} from '../shared/scenario.ts';
import type { SentryFrame, SentrySimulator, ZoneType } from './sentry-simulator.ts';

/**
 * A plausible watch at a sentry box: the guard checks in often and arms or disarms at shift changes; now and
 * then the mains drops or the battery sags and recovers; a zone alarm is rare, a tamper rarer, a panic very rare.
 * Power and arming events follow the panel's state, so the stream stays consistent. Weights are relative.
 */
const actions: readonly WeightedAction<SentrySimulator, SentryFrame>[] = [
  { weight: 0.6, run: (sim, random) => sim.checkIn(pick(random, guards)) },
  {
    weight: 0.14,
    run: (sim, random) => {
      const by = pick(random, ['keypad', 'keypad', 'remote', 'schedule'] as const);
      return sim.state.armed ? sim.disarm(by) : sim.arm(by);
    },
  },
  { weight: 0.07, run: (sim) => (sim.state.mains ? sim.mainsLost() : sim.mainsRestored()) },
  {
    weight: 0.07,
    run: (sim, random) =>
      sim.state.batteryPercent < 20
        ? sim.batteryOk(90 + Math.floor(random() * 11))
        : sim.batteryLow(5 + Math.floor(random() * 15)),
  },
  {
    weight: 0.08,
    run: (sim, random) => sim.zoneAlarm(1 + Math.floor(random() * 8), pick(random, zoneTypes)),
  },
  { weight: 0.03, run: (sim, random) => sim.tamper(pick(random, ['enclosure', 'siren', 'zone'] as const)) },
  { weight: 0.01, run: (sim, random) => sim.panic(random() < 0.2) },
];

const guards = ['G-0107', 'G-0112', 'G-0215', 'G-0309'] as const;
const zoneTypes: readonly ZoneType[] = ['door', 'window', 'pir', 'fence', 'glass'];

/** Sends one weighted-random event from the panel. */
export function randomSentryEvent(
  sim: SentrySimulator,
  random: () => number = Math.random,
): Promise<SentryFrame> {
  return runWeighted(actions, sim, random);
}

/** Drives random sentry box events from random panels at a steady rate until the count or the signal ends it. */
export function runSentryScenario(
  sims: readonly SentrySimulator[],
  options: ScenarioOptions<SentrySimulator, SentryFrame>,
): Promise<number> {
  return runScenario(sims, randomSentryEvent, options);
}
