import type { Incident, Severity } from '../core/incident.ts';
import { severities } from '../core/incident.ts';
import type { Role } from '../core/principal.ts';
import { wallClockText } from '../core/wall-clock.ts';
import type { AskReason } from './ask-reasons.ts';
import type { Notification } from './channel.ts';

/**
 * The messages people get, in Chinese: the title says how grave and where, the body what happened, where, when and
 * what is asked by when; the link opens the case on the page of the person's role.
 */

export type { AskReason } from './ask-reasons.ts';

const severityLabels: Record<Severity, string> = {
  critical: '严重',
  major: '重大',
  warning: '一般',
  info: '提示',
};

/**
 * The page each role works on: workers, chiefs and department users (their handed cases only) the phone page,
 * everyone else the console.
 */
const pageOfRole: Record<Role, string> = {
  grid_worker: '/worker',
  grid_chief: '/worker',
  department: '/worker',
  duty_officer: '/officer',
  integrator: '/officer',
  admin: '/officer',
};

const stageVerbs: Record<NonNullable<Incident['dueStage']>, string> = {
  accept: '接单',
  arrive: '到场',
  resolve: '办结',
};

export interface MessageContext {
  /** The hub's pages' address, without a trailing slash (notify.publicUrl, or the listener's own). */
  readonly baseUrl: string;
  readonly timeZone: string;
  /** Epoch ms: "within N minutes" is counted from it. */
  readonly now: number;
  /** A node's name (the centre a case climbed to). */
  readonly nodeName: (nodeId: string) => string | undefined;
}

function byWhen(incident: Incident, now: number, fallbackVerb: string): string {
  if (incident.dueAt === null || incident.dueStage === null) return `请尽快${fallbackVerb}`;
  const minutes = Math.max(1, Math.ceil((Date.parse(incident.dueAt) - now) / 60_000));
  return `请在${minutes}分钟内${stageVerbs[incident.dueStage]}`;
}

/** The note of the person's open hand-off (the last one, should they have been handed the case again). */
function handOffNote(incident: Incident, userId: string): string {
  return (incident.coordinators ?? []).findLast((entry) => entry.userId === userId)?.note ?? '';
}

/** What is asked of the person (`userId`), by when. */
const askTexts: Record<AskReason, (incident: Incident, context: MessageContext, userId: string) => string> = {
  dispatched: (incident, context) => `已派给您，${byWhen(incident, context.now, '接单')}`,
  escalated: (incident, context) => {
    const centre = context.nodeName(incident.responsibleNodeId) ?? incident.responsibleNodeId;
    const inHand = incident.handler !== null;
    return inHand
      ? `已升级至${centre}，请督办（${byWhen(incident, context.now, '办结')}）`
      : `已升级至${centre}，请派单处置（${byWhen(incident, context.now, '接单')}）`;
  },
  rework: (incident, context) => `核查未通过，请重新处置，${byWhen(incident, context.now, '办结')}`,
  // The handler keeps the case's deadline; the department is asked for its part, which has none of its own.
  handed_off: (incident, _context, userId) => `请协同处置：${handOffNote(incident, userId)}`,
};

function localTime(iso: string, timeZone: string): string {
  return wallClockText(Date.parse(iso), timeZone).replace('T', ' ').slice(0, 16);
}

export function pageUrl(baseUrl: string, role: Role, incidentId?: string): string {
  return `${baseUrl}${pageOfRole[role]}${incidentId === undefined ? '' : `#${encodeURIComponent(incidentId)}`}`;
}

/** One case's message. */
export function caseMessage(
  id: string,
  incident: Incident,
  reason: AskReason,
  user: { readonly id: string; readonly role: Role },
  context: MessageContext,
): Notification {
  const grid = incident.chain[0]?.name ?? incident.gridId;
  // The place from the top down: district / street / community / grid.
  const place = [...incident.chain]
    .reverse()
    .map((node) => node.name)
    .join(' / ');
  return {
    id,
    title: `【${severityLabels[incident.severity]}】${grid} · ${incident.title}`,
    body: [
      `设备：${incident.device.name}`,
      `地点：${place}`,
      `时间：${localTime(incident.createdAt, context.timeZone)}`,
      askTexts[reason](incident, context, user.id),
    ].join('\n'),
    url: pageUrl(context.baseUrl, user.role, incident.id),
    severity: incident.severity,
    incidentIds: [incident.id],
  };
}

/** Titles a bundle lists before it says how many more. */
const bundleListed = 5;

/** One message for many cases (a storm): how many, the gravest first in its title, linking to the list. */
export function bundleMessage(
  id: string,
  incidents: readonly Incident[],
  role: Role,
  context: MessageContext,
): Notification {
  const gravest = incidents.reduce<Severity>(
    (worst, incident) =>
      severities.indexOf(incident.severity) > severities.indexOf(worst) ? incident.severity : worst,
    'info',
  );
  const lines = incidents
    .slice(0, bundleListed)
    .map((incident) => `· ${incident.chain[0]?.name ?? incident.gridId} ${incident.title}`);
  if (incidents.length > bundleListed) lines.push(`…等共 ${incidents.length} 起，请打开列表查看`);
  return {
    id,
    title: `【${severityLabels[gravest]}】${incidents.length} 起新告警`,
    body: lines.join('\n'),
    url: pageUrl(context.baseUrl, role),
    severity: gravest,
    incidentIds: incidents.map((incident) => incident.id),
  };
}
