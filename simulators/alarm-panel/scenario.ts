import {
  pick,
  runScenario,
  runWeighted,
  type ScenarioOptions,
  type WeightedAction,
} from '../shared/scenario.ts';
import type { AlarmKind, AlarmPanelSimulator, Report } from './alarm-panel.ts';

/** What the scenario did, for a line of output: the act and the receiver's answer. */
export interface PanelAct {
  readonly event: string;
  readonly answer: string;
}

/** Each panel's arming and power, so the stream it sends stays consistent. */
const states = new WeakMap<AlarmPanelSimulator, { armed: boolean; mains: boolean }>();
function stateOf(sim: AlarmPanelSimulator): { armed: boolean; mains: boolean } {
  let state = states.get(sim);
  if (state === undefined) {
    state = { armed: false, mains: true };
    states.set(sim, state);
  }
  return state;
}

const answered = (event: string) => (report: Report) => ({ event, answer: report.answer?.kind ?? 'none' });

/** An alarm, then its restoral a few seconds later, as a zone that trips and settles. */
function alarmThenRestore(sim: AlarmPanelSimulator, kind: AlarmKind, zone: number): Promise<PanelAct> {
  setTimeout(() => void sim.restore(zone, kind).catch(() => undefined), 3_000 + zone * 500);
  return sim.alarm(zone, kind).then(answered(`${kind} alarm, zone ${zone} (restored in a few seconds)`));
}

/**
 * A plausible day of an alarm panel or a one-key alarm pillar: test reports most often, arming and disarming at
 * shift changes, now and then the mains drops and comes back; burglary zones trip and settle, fire and tamper are
 * rare, the pillar's panic button rarer still. Weights are relative.
 */
const actions: readonly WeightedAction<AlarmPanelSimulator, PanelAct>[] = [
  { weight: 0.35, run: (sim) => sim.testReport().then(answered('periodic test report')) },
  {
    weight: 0.2,
    run: (sim, random) => {
      const state = stateOf(sim);
      const user = 1 + Math.floor(random() * 8);
      state.armed = !state.armed;
      return (state.armed ? sim.close(user) : sim.open(user)).then(
        answered(`${state.armed ? 'armed' : 'disarmed'} by user ${user}`),
      );
    },
  },
  {
    weight: 0.08,
    run: (sim) => {
      const state = stateOf(sim);
      state.mains = !state.mains;
      return (state.mains ? sim.restore(0, 'mains') : sim.alarm(0, 'mains')).then(
        answered(state.mains ? 'mains restored' : 'mains lost'),
      );
    },
  },
  { weight: 0.2, run: (sim, random) => alarmThenRestore(sim, 'burglary', 1 + Math.floor(random() * 8)) },
  { weight: 0.06, run: (sim, random) => alarmThenRestore(sim, pick(random, ['fire', 'tamper'] as const), 9) },
  { weight: 0.03, run: (sim) => alarmThenRestore(sim, 'panic', 1) },
];

/** Drives random panel events from random panels at a steady rate until the count or the signal ends it. */
export function runAlarmPanelScenario(
  sims: readonly AlarmPanelSimulator[],
  options: ScenarioOptions<AlarmPanelSimulator, PanelAct>,
): Promise<number> {
  return runScenario(sims, (sim, random) => runWeighted(actions, sim, random), options);
}
