import { z } from 'zod';
import { feedbackChannels } from '../core/incident.ts';
import { type IncidentAction, incidentActions } from '../incidents/lifecycle.ts';

export type UserAction = Exclude<IncidentAction, 'clear' | 'end_notice'>;

/**
 * The hub's own actions, which no route names: `clear` when a device reports its condition over, `end_notice` when
 * a 公示 period runs out (the deadline sweep).
 */
const hubOnlyActions: ReadonlySet<IncidentAction> = new Set(['clear', 'end_notice']);

/** The lifecycle actions a user may take. */
export const userActions = incidentActions.filter((action) => !hubOnlyActions.has(action)) as [
  UserAction,
  ...UserAction[],
];

export function isUserAction(action: IncidentAction): action is UserAction {
  return !hubOnlyActions.has(action);
}

/**
 * What a lifecycle action takes beyond its incident and its name, on REST (the body of
 * `POST /api/incidents/:id/actions/:action`) and on Socket.IO (`incident:act`) alike, so both refuse and accept
 * the same inputs. An empty note is no note (REST always refused it; Socket.IO used to let it through to the
 * lifecycle), and dispatching to nobody is no dispatch. Whether an action needs a note or assignees is the
 * lifecycle's rule (lifecycle.ts), answered as `invalid_request` on both.
 */
export const actionInput = z.strictObject({
  note: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe(
      'Why; required to reject a verification, for a false alarm, for note, for supervise (the instruction), and for return, request_extension, deny_extension, suspend, hand_off, coordinate_done, feedback (what the reporter was told) and deny.',
    ),
  assignees: z.array(z.string().min(1).max(64)).min(1).max(50).optional().describe('For dispatch: user ids.'),
  position: z
    .strictObject({
      lon: z.number().min(-180).max(180),
      lat: z.number().min(-90).max(90),
      accuracyM: z.number().min(0).max(10_000).optional().describe("The fix's accuracy radius, metres."),
    })
    .optional()
    .describe(
      "For arrive: the phone's position (WGS84, navigator.geolocation); the hub keeps its distance to the device and flags a far arrival.",
    ),
  takenAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'When the user took the action, if it was queued offline: at most 12 h ago and not in the future. Kept in the audit entry; the lifecycle stamps the hub’s time.',
    ),
  // #25 lifecycle inputs; the lifecycle bounds them further (config `lifecycle`).
  until: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'For request_extension: the deadline asked for (later than the current one, within lifecycle.maxExtensionHours).',
    ),
  reviewAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'For suspend: the review date (within lifecycle.maxSuspensionDays); the hub resumes the case then.',
    ),
  coordinator: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('For hand_off: the user id of a department user (config departments[].userIds).'),
  via: z.enum(feedbackChannels).optional().describe('For feedback: how the reporter was told.'),
});

/** Socket.IO's `incident:act`: the incident and the action in the message, with the same input as REST. */
export const actionRequest = actionInput.extend({
  incidentId: z.string().min(1).max(64),
  action: z.enum(userActions),
});
