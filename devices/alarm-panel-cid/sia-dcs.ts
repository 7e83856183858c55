import { type Meaning, meanings } from './meanings.ts';

/**
 * SIA DCS (SIA DC-03, "Digital Communication Standard – SIA Format") as DC-09 carries it (`SIA-DCS`): `N` (a new
 * event), then modifiers (`ri` area, `id` user, `pi` peripheral, `ti` time, `da` date), then a two-letter event code
 * with its address (zone or user), an optional `^text^`, and more events after a `/`:
 * `Nri1/BA003`, `Nri0KR1^TAST. 001 ^`, `Nri1/CL501`, `Nri0000pi0006da10-25-18ti14:37:53UT0000^…^`.
 * The text is the panel's own label (a zone's or a user's name): never decoded.
 */
export interface SiaDcsEvent {
  readonly code: string;
  /** The zone, or the user of an opening or closing; undefined when the code had no address. */
  readonly address?: number;
  readonly area?: number;
  readonly user?: number;
}

const modifier = /^(ri|id|pi|ti|da|lp)([0-9:-]*)\/?/;
const event = /^([A-Z]{2})([0-9]{0,6})([A-Z]*)(?:\^[^^]*\^?)?/;

/** SIA DCS data → its events, or undefined when it holds none in this grammar. */
export function readSiaDcs(data: string): readonly SiaDcsEvent[] | undefined {
  let rest = /^N(?=[a-z]|[A-Z]{2})/.test(data) ? data.slice(1) : data;
  const events: SiaDcsEvent[] = [];
  let area: number | undefined;
  let user: number | undefined;
  while (rest.length > 0) {
    const mod = modifier.exec(rest);
    if (mod !== null) {
      const value = mod[2] as string;
      if (mod[1] === 'ri' && /^\d+$/.test(value)) area = Number(value);
      if (mod[1] === 'id' && /^\d+$/.test(value)) user = Number(value);
      rest = rest.slice(mod[0].length);
      continue;
    }
    const found = event.exec(rest);
    if (found === null) return undefined;
    const address = found[2] as string;
    events.push({
      code: found[1] as string,
      ...(address === '' ? {} : { address: Number(address) }),
      ...(area === undefined ? {} : { area }),
      ...(user === undefined ? {} : { user }),
    });
    rest = rest.slice(found[0].length);
    if (rest.startsWith('/')) rest = rest.slice(1);
    else if (rest.length > 0) return undefined;
  }
  return events.length === 0 ? undefined : events;
}

/**
 * Event codes of SIA DC-03 Appendix A and what they mean: the alarm and its restoral share a meaning, the restoral
 * marked. Codes not listed decode to `panel.report` with their code.
 */
export const siaDcsCodes: Readonly<Record<string, { readonly meaning: Meaning; readonly restoral?: true }>> =
  {
    BA: { meaning: meanings.intrusion },
    BR: { meaning: meanings.intrusion, restoral: true },
    BH: { meaning: meanings.intrusion, restoral: true },
    BB: { meaning: meanings.bypass },
    BU: { meaning: meanings.bypass, restoral: true },
    BT: { meaning: meanings.trouble },
    BJ: { meaning: meanings.trouble, restoral: true },
    FA: { meaning: meanings.fire },
    FR: { meaning: meanings.fire, restoral: true },
    FH: { meaning: meanings.fire, restoral: true },
    FT: { meaning: meanings.trouble },
    FJ: { meaning: meanings.trouble, restoral: true },
    PA: { meaning: meanings.panic },
    PR: { meaning: meanings.panic, restoral: true },
    PH: { meaning: meanings.panic, restoral: true },
    HA: { meaning: meanings.duress },
    HR: { meaning: meanings.duress, restoral: true },
    HH: { meaning: meanings.duress, restoral: true },
    MA: { meaning: meanings.medical },
    MR: { meaning: meanings.medical, restoral: true },
    MH: { meaning: meanings.medical, restoral: true },
    GA: { meaning: meanings.environmental },
    GH: { meaning: meanings.environmental, restoral: true },
    WA: { meaning: meanings.environmental },
    WH: { meaning: meanings.environmental, restoral: true },
    KA: { meaning: meanings.environmental },
    KH: { meaning: meanings.environmental, restoral: true },
    KR: { meaning: meanings.environmental, restoral: true },
    UA: { meaning: meanings.general },
    UR: { meaning: meanings.general, restoral: true },
    UH: { meaning: meanings.general, restoral: true },
    UT: { meaning: meanings.trouble },
    UJ: { meaning: meanings.trouble, restoral: true },
    TA: { meaning: meanings.tamper },
    TR: { meaning: meanings.tamper, restoral: true },
    AT: { meaning: meanings.mains },
    AR: { meaning: meanings.mains, restoral: true },
    YT: { meaning: meanings.battery },
    YR: { meaning: meanings.battery, restoral: true },
    YS: { meaning: meanings.trouble },
    YK: { meaning: meanings.trouble, restoral: true },
    OP: { meaning: meanings.disarmed },
    OA: { meaning: meanings.disarmed },
    CL: { meaning: meanings.armed },
    CA: { meaning: meanings.armed },
    CI: { meaning: meanings.exception },
    OI: { meaning: meanings.exception },
    JA: { meaning: meanings.exception },
    RP: { meaning: meanings.test },
    RX: { meaning: meanings.test },
  };

/** Openings and closings name a user where other events name a zone. */
export function siaNamesUser(code: string): boolean {
  const meaning = siaDcsCodes[code]?.meaning;
  return meaning === meanings.armed || meaning === meanings.disarmed || meaning === meanings.exception;
}
