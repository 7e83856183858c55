import type { AttributeValue } from './device-event.ts';
import { chainInScope, type GridChain } from './jurisdiction.ts';

export const severities = ['info', 'warning', 'major', 'critical'] as const;
export type Severity = (typeof severities)[number];

/**
 * The lifecycle of a case (GB/T 30428's collect → dispatch → handle → verify → close). Open states are the ones
 * someone still has to act on.
 */
export const incidentStates = [
  'new',
  'dispatched',
  'accepted',
  'on_site',
  'escalated',
  'resolved',
  'closed',
  'false_alarm',
  'cancelled',
  // 挂账 (#25): open (someone still owes it), its deadlines stopped until it is resumed.
  'suspended',
] as const;
export type IncidentState = (typeof incidentStates)[number];

const openStates: ReadonlySet<IncidentState> = new Set([
  'new',
  'dispatched',
  'accepted',
  'on_site',
  'escalated',
  'suspended',
]);

export function isOpen(state: IncidentState): boolean {
  return openStates.has(state);
}

/** The category of the incidents flood control groups alarm storms into; no rule may raise it. */
export const stormCategory = 'storm';

/** States after which nothing more happens to a case. */
export const terminalStates: ReadonlySet<IncidentState> = new Set(['closed', 'false_alarm', 'cancelled']);

/** The stages a deadline can bound (GB/T 30428: deadlines differ per category and per stage). */
export const deadlineStages = ['accept', 'arrive', 'resolve'] as const;
export type DeadlineStage = (typeof deadlineStages)[number];

/** When each step of the case happened (ISO 8601), and whether it was on time: what the monthly assessment reads. */
export interface IncidentTimeline {
  readonly dispatchedAt?: string;
  readonly acceptedAt?: string;
  readonly arrivedAt?: string;
  readonly resolvedAt?: string;
  readonly closedAt?: string;
  /** The deadlines as they stood when the case was first dispatched, for on-time rates. */
  readonly acceptBy?: string;
  readonly resolveBy?: string;
}

/** Another device's event joined to this incident by a correlation rule, or grouped into a storm. */
export interface RelatedEvent {
  readonly deviceId: string;
  readonly type: string;
  readonly occurredAt: string;
}

/** Related events kept on an incident (correlation joins, storm groupings): the newest this many, oldest first. */
export const relatedEventsLimit = 20;

/**
 * Video evidence attached to a case. `url` is served by the hub to users who may see the incident, and only once
 * the file is complete: an incident never points at a file that is not there yet.
 */
export interface EvidenceItem {
  /** snapshot, clip: a camera's; photo, video: uploaded from the field by a user (see FieldEvidence). */
  readonly kind: 'snapshot' | 'clip' | 'photo' | 'video';
  /** The camera for snapshots and clips; for uploads, the incident's device (the place it shows). */
  readonly cameraId: string;
  /** Hub-relative URL, e.g. /media/inc_…/snapshot-cam-xijiao-01.jpg */
  readonly url: string;
  readonly contentType: string;
  readonly bytes: number;
  /** ISO 8601. */
  readonly capturedAt: string;
  /** Clips only. */
  readonly durationSeconds?: number;
  /** Clips from the pre-alarm buffer: how many of their seconds come before the alarm. */
  readonly preAlarmSeconds?: number;
  /** Uploads (photo, video): the user who sent it. */
  readonly uploadedBy?: string;
  /** Uploads: before (处置前) or after (处置后) the work. */
  readonly stage?: FieldStage;
  /** Uploads, where the deployment keeps positions: where it was taken, WGS84 (never in the file itself). */
  readonly position?: FieldPosition;
}

/** Photos and videos from the field: taken before the work or after it. */
export const fieldStages = ['before', 'after'] as const;
export type FieldStage = (typeof fieldStages)[number];

/** A phone's position: WGS84 (what navigator.geolocation and GPS EXIF give), accuracy in metres when known. */
export interface FieldPosition {
  readonly lon: number;
  readonly lat: number;
  readonly accuracyM?: number;
}

/**
 * The handler's arrival (到达) as the phone placed it: its distance to the device, and whether that is farther than
 * the deployment's arrival radius plus the position's accuracy. The position itself only where positions are kept.
 */
export interface Arrival {
  readonly distanceM: number;
  readonly accuracyM: number;
  readonly far: boolean;
  readonly position?: FieldPosition;
}

/** The last rejected verification (返工): who sent the case back, when, and what to redo. */
export interface Returned {
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly note: string;
}

/** The device as an incident shows it: where it stands, for the worker to find it. */
export interface IncidentDevice {
  readonly id: string;
  readonly name: string;
  readonly adapter: string;
  /** The device's address as configured (devices[].address). */
  readonly address?: string;
  /** [lon, lat] in the configuration's coordinate system (map.coordinates), when the device has a location. */
  readonly location?: readonly [number, number];
}

/**
 * A centre's acknowledgement that its duty officers have seen an open incident. Keyed by the centre (the
 * acknowledging user's scope node over the incident), so every officer of that centre sees it acknowledged.
 */
export interface Acknowledgement {
  /** The jurisdiction node whose centre acknowledged. */
  readonly nodeId: string;
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
}

/**
 * A supervision (督办): a duty officer's centre pressing for an open case, with the instruction given. One entry per
 * supervision, a centre may supervise again.
 */
export interface Supervision {
  /** The jurisdiction node of the supervising officer's centre (their scope node over the incident). */
  readonly nodeId: string;
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
  /** The instruction. */
  readonly note: string;
}

/** A grid-tagged case raised from a device event. This is exactly what `incident:new` carries. */
export interface Incident {
  /** Time-ordered: sorting ids sorts incidents by creation. */
  readonly id: string;
  readonly state: IncidentState;
  readonly title: string;
  readonly category: string;
  readonly severity: Severity;
  readonly device: IncidentDevice;
  readonly event: {
    readonly type: string;
    /** ISO 8601, as the device reported it. */
    readonly occurredAt: string;
    readonly attributes: Readonly<Record<string, AttributeValue>>;
  };
  readonly gridId: string;
  /** grid → community → street → district, grid first. */
  readonly chain: GridChain;
  /** ISO 8601, when the hub created the incident. */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** How many times the device raised this event while the incident was open (dedupe); 1 at creation. */
  readonly occurrences: number;
  readonly lastOccurredAt: string;
  /** Other devices' events in the same grid joined by correlation, oldest first, at most relatedEventsLimit. */
  readonly related: readonly RelatedEvent[];
  /** The users who must act now (on-duty workers, the grid chief, integrators), by user id. */
  readonly assignees: readonly string[];
  /** The user who accepted the task; null until someone does. */
  readonly handler: string | null;
  /** The node whose centre is responsible now: the grid, then one level up per escalation. */
  readonly responsibleNodeId: string;
  readonly escalations: number;
  /** The current stage's deadline (ISO 8601) and stage; null when none applies (resolved or ended). */
  readonly dueAt: string | null;
  readonly dueStage: DeadlineStage | null;
  /** Times a verification sent the case back to its handler. */
  readonly reworks: number;
  readonly timeline: IncidentTimeline;
  /** Set when the incident was resolved; `resolvedBy` is a user id, or `system` when the device cleared it. */
  readonly resolvedAt?: string;
  readonly resolvedBy?: string;
  readonly resolution?: string;
  /** Set when the incident was closed, false-alarmed or cancelled: by whom. */
  readonly closedBy?: string;
  /** Snapshots and clips, added as they become ready (each addition is an `incident:update`). */
  readonly evidence?: readonly EvidenceItem[];
  /**
   * Counts the changes written by hub instances sharing a store, which write a change only over the version they
   * read (optimistic concurrency); absent (read as 0) where one hub owns the store and no change can race.
   */
  readonly version?: number;
  /** The centres that have acknowledged the incident while it was open, one entry per centre, oldest first. */
  readonly acknowledgements?: readonly Acknowledgement[];
  /** The supervisions of the incident while it was open, oldest first; absent until the first. */
  readonly supervisions?: readonly Supervision[];
  /** Set by 到达 when the phone sent its position (the latest arrival). */
  readonly arrival?: Arrival;
  /** The last rejected verification; kept through the next resolve (the officer checks the rework against it). */
  readonly returned?: Returned;
  /** 退回 to the dispatching centre (#25), oldest first. */
  readonly returns?: readonly CaseReturn[];
  /** 延期 requests and their decisions (#25), oldest first; the last is pending when it has no decision. */
  readonly extensions?: readonly Extension[];
  /** Set while the case is suspended (挂账, state 'suspended'); removed on resume (the audit trail keeps it). */
  readonly suspension?: Suspension;
  /** Department users handed the case for coordination (#25), oldest first. */
  readonly coordinators?: readonly Coordinator[];
  /** What the reporter was told after closure (#25); offered only on cases with an origin. */
  readonly feedback?: Feedback;
  // Cases from people (#25): absent on a device's case.
  /** Where a people's case came from; absent: a device's case. Its `device` is then a pseudo-device (caseSourceDevice). */
  readonly origin?: CaseOrigin;
  /** The catalogue's sub-category (cases/catalogue.ts), under `category`. */
  readonly subcategory?: string;
  /** What the reporter saw, in their words (at most 2000 characters). */
  readonly description?: string;
  /** Where a people's case is: a WGS84 position and/or an address. */
  readonly place?: { readonly position?: readonly [number, number]; readonly address?: string };
  /** 需要审批: the approval chain (community, street, district) the case goes up; moved by the lifecycle's actions. */
  readonly approval?: {
    readonly chain: readonly string[];
    readonly at: number;
    readonly decisions: readonly {
      nodeId: string;
      userId: string;
      at: string;
      approved: boolean;
      note?: string;
    }[];
    /** 公示 after the chain's last approval (absent while it climbs, or when lifecycle.approval.publicNoticeDays is 0). */
    readonly notice?: PublicNotice;
  };
}

/**
 * 公示 (方案4: "同时实行镇、社区(村)公示"): after the last approval the case is shown at the town and community centres
 * until `until`; it is dispatched only once the period ends without objection (the deadline sweep ends it). An
 * objection (异议) ends it early and sends the case back to the chain's last node to decide again.
 */
export interface PublicNotice {
  /** ISO 8601: the last approval. */
  readonly from: string;
  /** ISO 8601: when the period ends. */
  readonly until: string;
  /** ISO 8601: set when it ended, by the period running out or by an objection. */
  readonly endedAt?: string;
  readonly objection?: {
    readonly userId: string;
    readonly nodeId: string;
    readonly at: string;
    readonly reason: string;
  };
}

/** 退回 (#25): a handler or an assignee sent the case back to the dispatching centre, and why. */
export interface CaseReturn {
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly reason: string;
}

/** 延期 (#25): an extension the handler asked for; `approved` and the decider once a centre decided. */
export interface Extension {
  readonly requestedBy: string;
  /** ISO 8601, when asked. */
  readonly at: string;
  readonly reason: string;
  /** ISO 8601: the deadline asked for, for the stage running when asked. */
  readonly until: string;
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  readonly approved?: boolean;
}

/** 挂账 (#25): why the case is suspended, until when, and what of its deadline was left (restarted on resume). */
export interface Suspension {
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly reason: string;
  /** ISO 8601: when the sweep resumes it and raises it to the centre. */
  readonly reviewAt: string;
  /** The state it is resumed to. */
  readonly fromState: IncidentState;
  /** The stage that was running and its time left (ms), null when none ran. */
  readonly remaining: { readonly stage: DeadlineStage; readonly ms: number } | null;
}

/** A department's user handed the case for coordination (协同): a co-handler of their part; the handler stays. */
export interface Coordinator {
  readonly userId: string;
  readonly departmentId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly note: string;
  /** Set by coordinate_done: their part is done. */
  readonly doneAt?: string;
  readonly doneNote?: string;
}

/** How the reporter was told of the outcome (回访/反馈). */
export const feedbackChannels = ['phone', 'sms', 'in_person', 'platform'] as const;
export type FeedbackChannel = (typeof feedbackChannels)[number];

export interface Feedback {
  readonly userId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly note: string;
  readonly via: FeedbackChannel;
}

/** An approval chain's decision (需要审批: community → town → district). */
export interface ApprovalDecision {
  nodeId: string;
  userId: string;
  at: string;
  approved: boolean;
  note?: string;
}

/** Where a people's case came from (#25). */
export const caseOriginKinds = [
  'field_report',
  'phone',
  'walk_in',
  'resident',
  'hotline_12345',
  'wechat',
  'patrol',
] as const;
export type CaseOriginKind = (typeof caseOriginKinds)[number];

export interface CaseOrigin {
  kind: 'field_report' | 'phone' | 'walk_in' | 'resident' | 'hotline_12345' | 'wechat' | 'patrol';
  reportedBy?: string /* user id who reported or registered */;
  path?: 'on_spot' | 'coordinate' | 'urgent' | 'approval' /* 方案4, field reports */;
  externalId?: string /* e.g. the 12345 work-order number */;
  deadline?: string /* the source's own deadline (the 12345 platform's), as given */;
  signedAt?: string /* when the centre signed for the source's work order (12345 签收) */;
  reporter?: { name?: string /* minimised, e.g. 张** */; hasContact: boolean };
}

/** The four paths of 方案4 a field report takes. */
export const fieldReportPaths = ['on_spot', 'coordinate', 'urgent', 'approval'] as const;
export type FieldReportPath = (typeof fieldReportPaths)[number];

/** The source's name, as a people's case's pseudo-device shows it. */
export const caseSourceNames: Record<CaseOriginKind, string> = {
  field_report: '网格员上报',
  phone: '电话登记',
  walk_in: '来访登记',
  resident: '居民上报',
  hotline_12345: '12345热线',
  wechat: '微信上报',
  patrol: '巡查发现',
};

/**
 * A people's case keeps the required `device` as a pseudo-device, so every page and module that shows or routes by
 * the device keeps working: `case-source:<kind>`, named by the source, adapter `people`.
 */
export function caseSourceDevice(kind: CaseOriginKind, address?: string): IncidentDevice {
  return {
    id: `case-source:${kind}`,
    name: caseSourceNames[kind],
    adapter: 'people',
    ...(address === undefined ? {} : { address }),
  };
}

/** The key a case's deadlines are looked up by: `category/sub` for a sub-category (falls back to the category). */
export function deadlineCategoryOf(incident: Pick<Incident, 'category' | 'subcategory'>): string {
  return incident.subcategory === undefined
    ? incident.category
    : `${incident.category}/${incident.subcategory}`;
}

/** What `incident:update` carries, after Frigate: consumers never need to keep shadow state. */
export interface IncidentChange {
  readonly before: Incident;
  readonly after: Incident;
}

/** True when the incident lies under one of the scope nodes (or when no scope is asked for). */
export function incidentInScope(incident: Incident, scopeNodeIds: readonly string[] | undefined): boolean {
  return scopeNodeIds === undefined || chainInScope(incident.chain, scopeNodeIds);
}
