import { z } from 'zod';
import type { AccountView } from '../auth/accounts.ts';
import type { IssuedToken } from '../auth/token-authenticator.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import { requestErrorCodes } from '../core/errors.ts';
import {
  caseOriginKinds,
  deadlineStages,
  type EvidenceItem,
  type FieldPosition,
  feedbackChannels,
  fieldReportPaths,
  fieldStages,
  type Incident,
  incidentStates,
  severities,
} from '../core/incident.ts';
import { jurisdictionLevels, type PlaceRef } from '../core/jurisdiction.ts';
import { type Principal, roles } from '../core/principal.ts';
import { type DeadLetter, refusalReasons } from '../core/refusals.ts';
import type { CommandResult } from '../fleet/command-service.ts';
import type { DeviceView } from '../fleet/fleet.ts';
import type { Assessment, Figures } from '../incidents/assessment.ts';
import type { LoggedEvent } from '../store/event-log.ts';

/**
 * The answers of the REST API as zod schemas: they document each answer in the OpenAPI description and serialize
 * it (fastify-type-provider-zod's serializer parses the answer with its schema, so a field a schema does not name
 * would be dropped). Each schema of a type of the domain is checked against that type when the code compiles:
 * {@link covering} refuses a schema that misses one of its fields, optional ones included.
 */

/** Compile-time: S's answer is a T, and S names every field of T, so serializing through it loses nothing. */
export const covering =
  <T>() =>
  <S extends z.ZodType<T>>(
    schema: S & ([Exclude<keyof T, keyof z.output<S>>] extends [never] ? unknown : never),
  ): S =>
    schema;

/** A list in an answer: the domain's lists are readonly. */
export const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();

/** Every refusal, on every route: `{error: {code, message, problems?}}`. */
export const errorAnswer = z
  .object({
    error: z.object({
      code: z.enum(requestErrorCodes).describe('Stable: clients branch on it (see core/errors.ts).'),
      message: z.string(),
      problems: z
        .array(z.string())
        .optional()
        .describe('Each problem of the input as `path: message`, every one at once.'),
    }),
  })
  .describe('A refusal');

const instant = z.string().describe('ISO 8601');
const attributes = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const placeAnswer = covering<PlaceRef>()(
  z.object({ id: z.string(), name: z.string(), level: z.enum(jurisdictionLevels) }),
);

export const principalAnswer = covering<Principal>()(
  z.object({
    userId: z.string(),
    name: z.string(),
    role: z.enum(roles),
    scopeNodeIds: list(z.string()),
    session: z.object({ id: z.string(), expiresAt: instant }).optional(),
  }),
);

export const tokenAnswer = covering<IssuedToken>()(
  z.object({
    token: z.string().describe('The JWT: send it as `Authorization: Bearer <token>`.'),
    expiresAt: instant,
    sessionExpiresAt: instant.describe('The JWT is never refreshed past it: log in again then.'),
  }),
);

const fieldPositionAnswer = covering<FieldPosition>()(
  z.object({ lon: z.number(), lat: z.number(), accuracyM: z.number().optional() }),
);

const evidenceAnswer = covering<EvidenceItem>()(
  z.object({
    kind: z.enum(['snapshot', 'clip', 'photo', 'video']),
    cameraId: z.string(),
    url: z.string().describe('/media/<incident>/<file>, with the bearer token.'),
    contentType: z.string(),
    bytes: z.number(),
    capturedAt: instant,
    durationSeconds: z.number().optional(),
    preAlarmSeconds: z
      .number()
      .optional()
      .describe('Clips from the pre-alarm buffer: their seconds before the alarm.'),
    uploadedBy: z.string().optional().describe('Photos and videos from the field: the user who sent it.'),
    stage: z
      .enum(fieldStages)
      .optional()
      .describe('Photos and videos: before (处置前) or after (处置后) the work.'),
    position: fieldPositionAnswer
      .optional()
      .describe('Where it was taken (WGS84), when the deployment keeps positions; never in the file.'),
  }),
);

export const incidentAnswer = covering<Incident>()(
  z.object({
    id: z.string(),
    state: z.enum(incidentStates),
    title: z.string(),
    category: z.string(),
    severity: z.enum(severities),
    device: z.object({
      id: z.string(),
      name: z.string(),
      adapter: z.string(),
      address: z.string().optional().describe("The device's configured address."),
      location: z
        .tuple([z.number(), z.number()])
        .readonly()
        .optional()
        .describe("[lon, lat] in the configuration's system (map.coordinates)."),
    }),
    event: z.object({ type: z.string(), occurredAt: instant, attributes }),
    gridId: z.string(),
    chain: list(placeAnswer).describe('The grid and the places above it, grid first.'),
    createdAt: instant,
    updatedAt: instant,
    occurrences: z.number(),
    lastOccurredAt: instant,
    related: list(z.object({ deviceId: z.string(), type: z.string(), occurredAt: instant })),
    assignees: list(z.string()),
    handler: z.string().nullable(),
    responsibleNodeId: z.string(),
    escalations: z.number(),
    dueAt: instant.nullable(),
    dueStage: z.enum(deadlineStages).nullable(),
    reworks: z.number(),
    timeline: z.object({
      dispatchedAt: instant.optional(),
      acceptedAt: instant.optional(),
      arrivedAt: instant.optional(),
      resolvedAt: instant.optional(),
      closedAt: instant.optional(),
      acceptBy: instant.optional(),
      resolveBy: instant.optional(),
    }),
    resolvedAt: instant.optional(),
    resolvedBy: z.string().optional(),
    resolution: z.string().optional(),
    closedBy: z.string().optional(),
    evidence: list(evidenceAnswer).optional(),
    version: z.number().optional(),
    acknowledgements: list(z.object({ nodeId: z.string(), userId: z.string(), at: instant })).optional(),
    supervisions: list(
      z.object({ nodeId: z.string(), userId: z.string(), at: instant, note: z.string() }),
    ).optional(),
    arrival: z
      .object({
        distanceM: z.number(),
        accuracyM: z.number(),
        far: z.boolean().describe('Farther than field.arrivalRadiusM plus the accuracy.'),
        position: fieldPositionAnswer.optional().describe('Kept only where field.keepPositions is true.'),
      })
      .optional()
      .describe('到达 placed by the phone: its distance to the device (the latest arrival).'),
    returned: z
      .object({ userId: z.string(), at: instant, note: z.string() })
      .optional()
      .describe('The last rejected verification (返工) and its note; kept through the next resolve.'),
    // #25 lifecycle: 退回, 延期, 挂账, coordination, feedback, approval chain.
    returns: list(z.object({ userId: z.string(), at: instant, reason: z.string() }))
      .optional()
      .describe('退回: the case sent back to the dispatching centre, oldest first.'),
    extensions: list(
      z.object({
        requestedBy: z.string(),
        at: instant,
        reason: z.string(),
        until: instant,
        decidedBy: z.string().optional(),
        decidedAt: instant.optional(),
        approved: z.boolean().optional(),
      }),
    )
      .optional()
      .describe('延期 requests, oldest first; the last one is pending when it has no decision.'),
    suspension: z
      .object({
        userId: z.string(),
        at: instant,
        reason: z.string(),
        reviewAt: instant,
        fromState: z.enum(incidentStates),
        remaining: z.object({ stage: z.enum(deadlineStages), ms: z.number() }).nullable(),
      })
      .optional()
      .describe('挂账: set while the case is suspended.'),
    coordinators: list(
      z.object({
        userId: z.string(),
        departmentId: z.string(),
        at: instant,
        note: z.string(),
        doneAt: instant.optional(),
        doneNote: z.string().optional(),
      }),
    )
      .optional()
      .describe('Department users the case was handed to for coordination.'),
    feedback: z
      .object({ userId: z.string(), at: instant, note: z.string(), via: z.enum(feedbackChannels) })
      .optional()
      .describe('What the reporter was told after closure, and how.'),
    // Cases from people (#25).
    origin: z
      .object({
        kind: z.enum(caseOriginKinds),
        reportedBy: z.string().optional(),
        path: z.enum(fieldReportPaths).optional(),
        externalId: z.string().optional().describe("e.g. the 12345 platform's work-order number"),
        deadline: z
          .string()
          .optional()
          .describe("The source's own deadline (the 12345 platform's), as given."),
        signedAt: z
          .string()
          .optional()
          .describe('When the centre signed for the 12345 work order (签收); absent: not signed yet.'),
        reporter: z
          .object({
            name: z.string().optional().describe('Minimised (张**); the contact only at /reporter.'),
            hasContact: z.boolean(),
          })
          .optional(),
      })
      .optional()
      .describe(
        "A people's case's source; absent on a device's case (its device is then case-source:<kind>).",
      ),
    subcategory: z.string().optional(),
    description: z.string().optional(),
    place: z
      .object({
        position: z.tuple([z.number(), z.number()]).readonly().optional().describe('[lon, lat], WGS84'),
        address: z.string().optional(),
      })
      .optional(),
    approval: z
      .object({
        chain: list(z.string()),
        at: z.number(),
        decisions: list(
          z.object({
            nodeId: z.string(),
            userId: z.string(),
            at: instant,
            approved: z.boolean(),
            note: z.string().optional(),
          }),
        ),
        notice: z
          .object({
            from: instant,
            until: instant,
            endedAt: instant.optional(),
            objection: z
              .object({ userId: z.string(), nodeId: z.string(), at: instant, reason: z.string() })
              .optional(),
          })
          .optional()
          .describe('公示 after the last approval: dispatched once it ends without objection.'),
      })
      .optional()
      .describe(
        '需要审批: the approval chain (node ids, lowest first), the step it is at, and its decisions.',
      ),
  }),
);

export const auditAnswer = covering<AuditEntry>()(
  z.object({
    id: z.string(),
    at: instant,
    actor: z.object({ userId: z.string(), role: z.string() }),
    action: z.string(),
    target: z.object({ kind: z.enum(['device', 'incident', 'grid', 'user']), id: z.string() }),
    outcome: z.enum(['ok', 'refused', 'failed', 'timeout']),
    detail: z.record(z.string(), z.unknown()),
    message: z.string().optional(),
  }),
);

export const deadLetterAnswer = covering<DeadLetter>()(
  z.object({
    id: z.string(),
    receivedAt: instant,
    topic: z.string(),
    deviceId: z.string().nullable(),
    reason: z.enum(Object.keys(refusalReasons) as [keyof typeof refusalReasons]),
    problems: list(z.string()),
    payloadBytes: z.number(),
    payloadShape: z.unknown(),
  }),
);

const deviceStatusAnswer = covering<DeviceStatus>()(
  z.object({
    deviceId: z.string(),
    name: z.string(),
    adapter: z.string(),
    gridId: z.string(),
    online: z.boolean(),
    disabled: z.boolean(),
    lastSeenAt: instant.nullable(),
    since: instant,
  }),
);

export const deviceAnswer = covering<DeviceView>()(
  z.object({
    id: z.string(),
    name: z.string(),
    adapter: z.string(),
    gridId: z.string(),
    chain: list(placeAnswer),
    location: z.tuple([z.number(), z.number()]).readonly().nullable(),
    source: z.enum(['config', 'api']),
    commands: list(z.string()),
    offlineAfterSeconds: z.number(),
    status: deviceStatusAnswer,
    maintenanceUntil: instant.nullable(),
    nationalCode: z.string().optional(),
    parentId: z.string().optional(),
  }),
);

/** A device with its MQTT secret: shown once, when it is made or rotated. */
export const deviceWithSecretAnswer = z.object({ device: deviceAnswer, secret: z.string() });

export const loggedEventAnswer = covering<LoggedEvent>()(
  z.object({
    id: z.string(),
    deviceId: z.string(),
    type: z.string(),
    occurredAt: instant,
    loggedAt: instant,
    attributes,
  }),
);

export const commandAnswer = covering<CommandResult>()(
  z.object({
    requestId: z.string(),
    ok: z.boolean(),
    error: z.string().optional(),
    result: attributes.optional(),
  }),
);

export const accountAnswer = covering<AccountView>()(
  z.object({
    id: z.string(),
    name: z.string(),
    role: z.enum(roles),
    scope: z.string().nullable(),
    grids: list(z.string()).nullable(),
    disabled: z.boolean(),
    hasPassword: z.boolean(),
    hasApiToken: z.boolean(),
    createdBy: z.string().nullable(),
    updatedAt: instant,
  }),
);

const percentiles = z.object({ p50: z.number().nullable(), p90: z.number().nullable() });
const figures = covering<Figures>()(
  z.object({
    incidents: z.number(),
    accepted: z.number(),
    closed: z.number(),
    resolved: z.number(),
    falseAlarms: z.number(),
    cancelled: z.number(),
    onTimeAcceptanceRate: z.number().nullable(),
    onTimeClosureRate: z.number().nullable(),
    closureRate: z.number().nullable(),
    responseSeconds: percentiles,
    closureSeconds: percentiles,
    reworks: z.number(),
    supervised: z.number().describe('Incidents supervised (督办) at least once.'),
    supervisions: z.number().describe('Supervisions of those incidents, in all.'),
  }),
);

export const assessmentAnswer = covering<Assessment & { node: PlaceRef }>()(
  z.object({
    node: placeAnswer,
    period: z.object({ from: instant, to: instant }),
    asOf: instant,
    overall: figures,
    grids: list(z.object({ gridId: z.string(), gridName: z.string(), figures })),
    workers: list(z.object({ userId: z.string(), figures })),
  }),
);

/** A page of a list, newest first: `next` is the `before` of the next page, null at the end. */
export const nextPage = z.string().nullable().describe('Pass as `before` for the next page; null: no more.');
