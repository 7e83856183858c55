import type { MultipartPart } from '../net/multipart-reader.ts';

/**
 * The text of one part of a Dahua event stream (`eventManager.cgi?action=attach`), as the Dahua HTTP API writes it:
 *
 *     Code=VideoMotion;action=Start;index=0
 *     Code=CrossLineDetection;action=Start;index=0;data={
 *        "Name" : "Rule1", …
 *     }
 *     Heartbeat
 *
 * `data` is JSON and may span lines (door stations indent it); it is always last, so it runs to the end of its event.
 * Some firmware puts several events in one part, each starting a line with `Code=`. A part may end with the line
 * breaks the device counted into its Content-Length. Pure: bytes in, events or the problems found out, in words
 * that carry none of the values the device sent.
 */

export interface DahuaEventText {
  readonly code: string;
  readonly action: string;
  readonly index: number;
  readonly data?: Record<string, unknown>;
}

export type ParsedPart =
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'events'; readonly events: readonly DahuaEventText[] }
  /** Not text (some firmware interleaves a JPEG): nothing of ours, skipped. */
  | { readonly kind: 'other'; readonly contentType: string }
  | { readonly kind: 'malformed'; readonly problems: readonly string[] };

/** More events than this in one part is not a device reporting, it is a device broken. */
export const maxEventsPerPart = 32;

const eventStart = /\r?\n(?=Code=)/;
const codePattern = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;
const actionPattern = /^[A-Za-z]{1,32}$/;
const indexPattern = /^\d{1,3}$/;

export function parseDahuaPart(part: MultipartPart): ParsedPart {
  const contentType = (part.headers['content-type'] ?? 'text/plain').split(';')[0]?.trim().toLowerCase();
  if (contentType !== undefined && contentType !== '' && !contentType.startsWith('text/')) {
    return { kind: 'other', contentType };
  }
  const text = part.body.toString('utf8').trim();
  if (/^heartbeat$/i.test(text)) return { kind: 'heartbeat' };
  if (!text.startsWith('Code=')) {
    return {
      kind: 'malformed',
      problems: [text === '' ? 'an empty part' : 'a part that is neither a Heartbeat nor an event (Code=…)'],
    };
  }
  const texts = text.split(eventStart);
  if (texts.length > maxEventsPerPart) {
    return {
      kind: 'malformed',
      problems: [`${texts.length} events in one part, the limit is ${maxEventsPerPart}`],
    };
  }
  const events: DahuaEventText[] = [];
  const problems: string[] = [];
  texts.forEach((eventText, at) => {
    const parsed = parseEvent(eventText);
    if ('problem' in parsed)
      problems.push(texts.length === 1 ? parsed.problem : `event ${at + 1}: ${parsed.problem}`);
    else events.push(parsed);
  });
  return problems.length > 0 ? { kind: 'malformed', problems } : { kind: 'events', events };
}

/** `Code=…;action=…;index=…[;data=…]`: the fields in any order before data, data last and to the end. */
function parseEvent(text: string): DahuaEventText | { problem: string } {
  const dataAt = text.indexOf(';data=');
  const head = dataAt < 0 ? text.trim() : text.slice(0, dataAt);
  const fields = new Map<string, string>();
  for (const field of head.split(';')) {
    const equals = field.indexOf('=');
    if (equals <= 0) return { problem: 'a field without a name and a value' };
    fields.set(field.slice(0, equals).trim(), field.slice(equals + 1).trim());
  }
  const code = fields.get('Code') ?? '';
  const action = fields.get('action') ?? '';
  const index = fields.get('index') ?? '';
  if (!codePattern.test(code)) return { problem: 'Code: not an event code' };
  if (!actionPattern.test(action)) return { problem: 'action: missing or not a word' };
  if (!indexPattern.test(index)) return { problem: 'index: missing or not a number' };
  if (dataAt < 0) return { code, action, index: Number(index) };
  let data: unknown;
  try {
    data = JSON.parse(text.slice(dataAt + ';data='.length));
  } catch {
    return { problem: 'data: not valid JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { problem: 'data: not a JSON object' };
  }
  return { code, action, index: Number(index), data: data as Record<string, unknown> };
}

/**
 * The `serialNumber` of a Dahua `key=value` answer (magicBox.cgi getSystemInfo: `deviceType=…`, `serialNumber=…`,
 * one a line); undefined when it has none.
 */
export function serialNumberOf(answer: string): string | undefined {
  for (const line of answer.split(/\r?\n/)) {
    const equals = line.indexOf('=');
    if (equals > 0 && line.slice(0, equals).trim() === 'serialNumber') {
      const value = line.slice(equals + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
