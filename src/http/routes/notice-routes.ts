import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Incident } from '../../core/incident.ts';
import type { IncidentService } from '../../incidents/incident-service.ts';
import { noticeRunning } from '../../incidents/lifecycle.ts';
import type { Visibility } from '../../incidents/visibility.ts';
import { authenticate, principalOf } from '../request-guards.ts';
import { list } from '../schemas.ts';

export interface NoticeRoutesOptions {
  readonly incidents: Pick<IncidentService, 'activeWhere'>;
  readonly visibility: Visibility;
}

/** How much of the reporter's description a notice shows: the matter, not a statement. */
const summaryChars = 120;
const instant = z.string().describe('ISO 8601');
const noticeAnswer = z.object({
  incidentId: z.string(),
  category: z.string(),
  subcategory: z.string().optional(),
  title: z.string(),
  community: z.string().optional().describe('The community (社区/村) the case is in, by name.'),
  grid: z.string(),
  address: z.string().optional(),
  summary: z.string().describe(`The matter, the description's first ${summaryChars} characters.`),
  approvedAt: instant,
  until: instant,
});
type NoticeAnswer = z.infer<typeof noticeAnswer>;

/**
 * A notice as a centre's board shows it, minimised: what, where and until when. Never who reported or applied, nor
 * the approving officers (their decisions are on the case, for those who may see it).
 */
function noticeOf(incident: Incident, notice: NonNullable<ReturnType<typeof noticeRunning>>): NoticeAnswer {
  const community = incident.chain.find((node) => node.level === 'community');
  const grid = incident.chain[0];
  return {
    incidentId: incident.id,
    category: incident.category,
    ...(incident.subcategory === undefined ? {} : { subcategory: incident.subcategory }),
    title: incident.title,
    ...(community === undefined ? {} : { community: community.name }),
    grid: grid?.name ?? incident.gridId,
    ...(incident.place?.address === undefined ? {} : { address: incident.place.address }),
    summary: (incident.description ?? '').slice(0, summaryChars),
    approvedAt: notice.from,
    until: notice.until,
  };
}

/**
 * 公示 (方案4: "同时实行镇、社区(村)公示"): the approved cases under public notice that the caller's centre shows. Behind
 * a token like every other read: a board in a centre's hall is an officer's screen, not a page open to the network.
 */
export const noticeRoutes: FastifyPluginAsyncZod<NoticeRoutesOptions> = async (app, options) => {
  const { incidents, visibility } = options;
  app.addHook('preHandler', authenticate);
  app.get(
    '/public-notices',
    {
      config: { roles: ['duty_officer', 'admin'] },
      schema: {
        tags: ['incidents'],
        summary: 'Approved cases under public notice (公示) in your scope, ending soonest first',
        description:
          'A case on the approval chain (需要审批) is shown after its last approval until the period ' +
          '(lifecycle.approval.publicNoticeDays) ends; an officer may object (object_notice) meanwhile.',
        response: { 200: z.object({ notices: list(noticeAnswer) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A case under notice is open: the active incidents in memory hold every one, no store scan needed.
      const found = incidents.activeWhere(
        (incident) => noticeRunning(incident) !== undefined && visibility.canSee(principal, incident),
      );
      const notices = found.flatMap((incident) => {
        const notice = noticeRunning(incident);
        return notice === undefined ? [] : [noticeOf(incident, notice)];
      });
      return { notices: notices.sort((a, b) => a.until.localeCompare(b.until)) };
    },
  );
};
