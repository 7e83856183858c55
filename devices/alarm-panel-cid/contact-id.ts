import { type Meaning, meanings } from './meanings.ts';

/**
 * Ademco Contact ID (SIA DC-05) as DC-09 carries it (`ADM-CID`): `QEEE GG ZZZ`, the qualifier (1 a new event or an
 * opening, 3 a restoral or a closing, 6 a condition still present), the three-digit event code, the partition
 * (group) and the zone, or the user for openings and closings. The codes come from SIA DC-05-1999.09, "Digital
 * Communication Standard – Ademco Contact ID Protocol", section 3.2 (the table in README.md).
 */
export const contactIdPattern = /^([136])(\d{3}) ?(\d{2}) ?(\d{3})$/;

export interface ContactIdEvent {
  readonly qualifier: 1 | 3 | 6;
  readonly code: number;
  readonly partition: number;
  /** The zone, or for an opening or closing, the user. */
  readonly zoneOrUser: number;
}

/** Contact ID data → its parts, or undefined when it is not `QEEE GG ZZZ`. */
export function readContactId(data: string): ContactIdEvent | undefined {
  const parts = contactIdPattern.exec(data);
  if (parts === null) return undefined;
  const [, qualifier, code, partition, zone] = parts as unknown as string[];
  return {
    qualifier: Number(qualifier) as 1 | 3 | 6,
    code: Number.parseInt(code as string, 10),
    partition: Number.parseInt(partition as string, 10),
    zoneOrUser: Number.parseInt(zone as string, 10),
  };
}

/** A range of event codes, first to last, and what they mean. */
type CodeRange = readonly [first: number, last: number, meaning: Meaning];

/** Checked in order: a single code listed before the range that holds it overrides it. */
const contactIdRanges: readonly CodeRange[] = [
  [100, 109, meanings.medical],
  [110, 119, meanings.fire],
  [121, 121, meanings.duress],
  [120, 129, meanings.panic],
  [137, 137, meanings.tamper],
  [130, 139, meanings.intrusion],
  [144, 145, meanings.tamper],
  [146, 146, meanings.intrusion],
  [140, 149, meanings.general],
  [150, 169, meanings.environmental],
  [200, 299, meanings.supervisory],
  [301, 301, meanings.mains],
  [302, 302, meanings.battery],
  [309, 309, meanings.battery],
  [311, 311, meanings.battery],
  [383, 383, meanings.tamper],
  [384, 384, meanings.battery],
  [300, 399, meanings.trouble],
  [400, 409, meanings.disarmed],
  [441, 442, meanings.disarmed],
  [450, 499, meanings.exception],
  [500, 599, meanings.bypass],
  [601, 616, meanings.test],
];

/** The meaning of an event code; `panel.report` for one no range holds. */
export function contactIdMeaning(code: number): Meaning {
  for (const [first, last, meaning] of contactIdRanges) if (code >= first && code <= last) return meaning;
  return meanings.report;
}

/** Openings and closings (4xx) name a user where other events name a zone. */
export function namesUser(code: number): boolean {
  return code >= 400 && code < 500;
}
