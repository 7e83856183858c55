/**
 * What the events of an alarm panel mean to the hub, whichever payload carried them: a condition that starts (an
 * alarm, a trouble) and the type its restoral raises, which rules name in `clearedBy`; or a fact (armed, disarmed,
 * a test report) that has no restoral.
 */
export interface Meaning {
  /** The normalized event type of the condition starting, or of the fact. */
  readonly type: string;
  /** The type a restoral of it raises; undefined for a fact. */
  readonly restored?: string;
  /** Facts about the kind of event, beside the code's own words (duress: true for a duress code). */
  readonly attributes?: Readonly<Record<string, string | boolean>>;
}

export const meanings = {
  medical: { type: 'alarm.medical', restored: 'alarm.medical_restored' },
  fire: { type: 'alarm.fire', restored: 'alarm.fire_restored' },
  panic: { type: 'alarm.panic', restored: 'alarm.panic_restored', attributes: { duress: false } },
  duress: { type: 'alarm.panic', restored: 'alarm.panic_restored', attributes: { duress: true } },
  intrusion: { type: 'alarm.intrusion', restored: 'alarm.intrusion_restored' },
  general: { type: 'alarm.general', restored: 'alarm.general_restored' },
  environmental: { type: 'alarm.environmental', restored: 'alarm.environmental_restored' },
  tamper: { type: 'device.tamper', restored: 'device.tamper_restored' },
  supervisory: { type: 'panel.supervisory', restored: 'panel.supervisory_restored' },
  mains: { type: 'power.mains_lost', restored: 'power.mains_restored' },
  battery: { type: 'power.battery_low', restored: 'power.battery_ok' },
  trouble: { type: 'panel.trouble', restored: 'panel.trouble_restored' },
  bypass: { type: 'zone.bypassed', restored: 'zone.unbypassed' },
  disarmed: { type: 'panel.disarmed' },
  armed: { type: 'panel.armed' },
  exception: { type: 'panel.exception' },
  test: { type: 'panel.test' },
  report: { type: 'panel.report' },
} as const satisfies Record<string, Meaning>;

/**
 * What every event of a panel can carry: the code as the payload gave it (`130`, `BA`), the partition (Contact ID
 * group, SIA DCS area), the zone or, for openings and closings, the user number (a slot on the panel, not a
 * person's identifier), and stillPresent for a Contact ID status report (qualifier 6). Zone, user and partition 0
 * (the panel itself) are left out.
 */
const common = ['code', 'partition', 'zone', 'user', 'stillPresent'];
const withDuress = [...common, 'duress'];

/** Every type an alarm panel's events decode to, described for the adapter's `events`. */
export const alarmPanelEvents = {
  'alarm.medical': { description: 'A medical or personal emergency alarm.', attributes: common },
  'alarm.medical_restored': { description: 'The medical alarm was restored.', attributes: common },
  'alarm.fire': {
    description: 'A fire alarm (smoke, heat, flame, pull station).',
    attributes: common,
  },
  'alarm.fire_restored': { description: 'The fire alarm was restored.', attributes: common },
  'alarm.panic': {
    description: 'A panic, hold-up or duress alarm (a one-key alarm pillar pressed); duress: a silent alarm.',
    attributes: withDuress,
  },
  'alarm.panic_restored': { description: 'The panic alarm was restored.', attributes: common },
  'alarm.intrusion': { description: 'A burglary zone went into alarm.', attributes: common },
  'alarm.intrusion_restored': {
    description: 'The burglary zone was restored.',
    attributes: common,
  },
  'alarm.general': { description: 'A general alarm of a zone.', attributes: common },
  'alarm.general_restored': { description: 'The general alarm was restored.', attributes: common },
  'alarm.environmental': {
    description: 'A 24-hour non-burglary alarm: gas, water, carbon monoxide, temperature.',
    attributes: common,
  },
  'alarm.environmental_restored': {
    description: 'The environmental alarm was restored.',
    attributes: common,
  },
  'device.tamper': {
    description: "The panel's, a sensor's or a module's tamper switch opened.",
    attributes: common,
  },
  'device.tamper_restored': { description: 'The tamper switch closed again.', attributes: common },
  'panel.supervisory': {
    description: 'A supervisory condition (a fire system supervised point).',
    attributes: common,
  },
  'panel.supervisory_restored': {
    description: 'The supervisory condition was restored.',
    attributes: common,
  },
  'power.mains_lost': {
    description: 'Mains (AC) power failed; the panel runs on its battery.',
    attributes: common,
  },
  'power.mains_restored': { description: 'Mains power came back.', attributes: common },
  'power.battery_low': {
    description: "The panel's or a sensor's battery is low or failed its test.",
    attributes: common,
  },
  'power.battery_ok': { description: 'The battery recovered.', attributes: common },
  'panel.trouble': {
    description: 'A system trouble: communication, sounder, peripheral, loop or sensor fault.',
    attributes: common,
  },
  'panel.trouble_restored': { description: 'The trouble was restored.', attributes: common },
  'zone.bypassed': { description: 'A zone was bypassed (left out of arming).', attributes: common },
  'zone.unbypassed': { description: 'The zone was brought back into arming.', attributes: common },
  'panel.armed': {
    description: 'The panel (or a partition) was armed: a closing.',
    attributes: common,
  },
  'panel.disarmed': {
    description: 'The panel (or a partition) was disarmed: an opening.',
    attributes: common,
  },
  'panel.exception': {
    description: 'An opening or closing out of schedule, a failed arming, a wrong code.',
    attributes: common,
  },
  'panel.test': {
    description: 'A test report: periodic (the panel is alive) or manual.',
    attributes: common,
  },
  'panel.report': {
    description: 'An event whose code the adapter does not map; its code is kept for the operator.',
    attributes: common,
  },
} as const;
