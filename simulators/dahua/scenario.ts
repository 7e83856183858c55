import type { DahuaSimulator } from './dahua-simulator.ts';

/**
 * What a Dahua camera or door station does in a day, drawn at random: mostly motion coming and going, now and then
 * a tripwire crossing, an intrusion, a covered lens, an alarm input, a card at the door and the door's contact.
 * Lasting conditions end a moment after they start, as the device's Stop would.
 */
export const dahuaActs: Readonly<Record<string, (sim: DahuaSimulator) => Promise<void>>> = {
  motion: async (sim) => {
    await sim.motion(true);
    setTimeout(() => void sim.motion(false).catch(() => undefined), 3_000);
  },
  'cross-line': (sim) => sim.crossLine({ objectType: 'Human' }),
  'cross-region': async (sim) => {
    await sim.crossRegion(true, { objectType: 'Vehicle' });
    setTimeout(() => void sim.crossRegion(false).catch(() => undefined), 5_000);
  },
  blind: async (sim) => {
    await sim.blind(true);
    setTimeout(() => void sim.blind(false).catch(() => undefined), 10_000);
  },
  'video-loss': async (sim) => {
    await sim.videoLoss(true);
    setTimeout(() => void sim.videoLoss(false).catch(() => undefined), 10_000);
  },
  'alarm-input': async (sim) => {
    await sim.alarmInput(1, true);
    setTimeout(() => void sim.alarmInput(1, false).catch(() => undefined), 8_000);
  },
  card: (sim) =>
    sim.access({
      granted: Math.random() < 0.8,
      cardNo: String(6_222_020_000_000_000 + Math.floor(Math.random() * 1e6)),
    }),
  door: async (sim) => {
    await sim.doorStatus(true);
    setTimeout(() => void sim.doorStatus(false).catch(() => undefined), 4_000);
  },
  'storage-failure': (sim) => sim.storageFailure(true),
  garbage: (sim) => sim.garbage(),
};

/** How often each act is drawn, out of the total: motion most, faults least. */
const weights: Readonly<Record<string, number>> = {
  motion: 50,
  'cross-line': 15,
  'cross-region': 8,
  card: 12,
  door: 8,
  blind: 3,
  'alarm-input': 3,
  'video-loss': 1,
};

export function drawAct(random: () => number = Math.random): string {
  const total = Object.values(weights).reduce((sum, weight) => sum + weight, 0);
  let roll = random() * total;
  for (const [act, weight] of Object.entries(weights)) {
    roll -= weight;
    if (roll < 0) return act;
  }
  return 'motion';
}

/** Acts at `rate` per second across the simulators until `signal` aborts; resolves with how many were done. */
export async function runDahuaScenario(
  sims: readonly DahuaSimulator[],
  options: { rate: number; signal: AbortSignal; onAct?: (sim: DahuaSimulator, act: string) => void },
): Promise<number> {
  let done = 0;
  if (options.rate <= 0 || sims.length === 0) {
    await new Promise<void>((resolve) =>
      options.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    return done;
  }
  while (!options.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000 / options.rate);
      options.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (options.signal.aborted) break;
    const sim = sims[Math.floor(Math.random() * sims.length)] as DahuaSimulator;
    const act = drawAct();
    await (dahuaActs[act] as (sim: DahuaSimulator) => Promise<void>)(sim).catch(() => undefined);
    options.onAct?.(sim, act);
    done++;
  }
  return done;
}
