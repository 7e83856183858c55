import { AuditTrail } from '../audit/audit-trail.ts';
import { refused } from '../core/errors.ts';
import { timeOrderedId } from '../core/ids.ts';
import {
  type CaseOrigin,
  type CaseOriginKind,
  caseSourceDevice,
  deadlineCategoryOf,
  type FieldReportPath,
  type Incident,
  type Severity,
} from '../core/incident.ts';
import type { GridEntry } from '../core/jurisdiction.ts';
import type { Principal } from '../core/principal.ts';
import type { CoordinateSystem } from '../field/geo.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Router } from '../incidents/router.ts';
import type { Visibility } from '../incidents/visibility.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import type { Catalogue, CatalogueEntry } from './catalogue.ts';
import { minimisedName, placeReport } from './placement.ts';

/** Where reporters' names and numbers are kept, apart from the incident (key: the incident id). */
export const reporterContactsCollection = 'reporter-contacts';

/** A reporter's contact as kept: the only place the full name and the number are. */
export interface ReporterContact {
  readonly name?: string;
  readonly phone?: string;
}

export interface FieldReport {
  readonly category: string;
  readonly subcategory?: string;
  readonly description: string;
  /** WGS84 [lon, lat]. */
  readonly position?: readonly [number, number];
  /** A correction of the grid the position fell in, among the worker's grids. */
  readonly gridId?: string;
  readonly address?: string;
  readonly path: FieldReportPath;
  /** on_spot: what was done. */
  readonly note?: string;
}

export interface Registration {
  readonly source: Exclude<CaseOriginKind, 'field_report' | 'patrol'>;
  readonly reporter?: { readonly name?: string; readonly phone?: string };
  readonly gridId?: string;
  readonly position?: readonly [number, number];
  readonly address?: string;
  readonly category: string;
  readonly subcategory?: string;
  readonly description: string;
  readonly title?: string;
  /** The source's own number (a 12345 work order's). */
  readonly externalId?: string;
  /** The source's own deadline (a 12345 work order's), kept as given. */
  readonly deadline?: string;
}

export interface PeopleCasesOptions {
  readonly incidents: IncidentService;
  readonly router: Router;
  readonly visibility: Visibility;
  readonly jurisdiction: Jurisdiction;
  readonly catalogue: Catalogue;
  readonly store: Store;
  readonly metrics: MetricsRegistry;
  /** The system of the grids' boundaries (config map.coordinates). */
  readonly coordinates: CoordinateSystem;
  /** How long a reporter's contact is kept from the registration (hub.reporterRetentionDays), in ms. */
  readonly reporterRetentionMs: number;
  /** Epoch ms; Date.now when not given. */
  readonly now?: () => number;
}

/** The centre answering for a case: its responsible node, or a grid's community (a grid has no centre of its own). */
function responsibleCentreOf(incident: Incident): string {
  const [grid, community] = incident.chain;
  return incident.responsibleNodeId === grid?.id ? (community?.id ?? grid.id) : incident.responsibleNodeId;
}

/** What people's cases count: created by source and path, refused by reason, reporter-contact reads by outcome. */
const peopleCaseMetrics = declareMetrics((registry) => ({
  created: registry.counter({
    name: 'gridhub_people_cases_created_total',
    help: "People's cases created, by source (field_report, phone, walk_in, resident, hotline_12345, wechat) and path (on_spot, coordinate, urgent, approval, register).",
    labelNames: ['source', 'path'] as const,
  }),
  refused: registry.counter({
    name: 'gridhub_people_cases_refused_total',
    help: "People's case requests refused, by reason: unknown_category, not_placed, no_note, out_of_scope.",
    labelNames: ['reason'] as const,
  }),
  contactReads: registry.counter({
    name: 'gridhub_reporter_contact_reads_total',
    help: "Reads of a reporter's contact, by outcome: ok, forbidden, not_found.",
    labelNames: ['outcome'] as const,
  }),
}));

const severityRank: Record<Severity, number> = { info: 0, warning: 1, major: 2, critical: 3 };

/** The least severity of each path: an urgent report alerts the centre as a major case at least. */
const pathSeverity: Record<FieldReportPath, Severity> = {
  on_spot: 'info',
  coordinate: 'warning',
  urgent: 'major',
  approval: 'warning',
};

/**
 * Cases from people (#25 points 1, 2, 7): field reports (随手拍) by grid workers along 方案4's four paths, and
 * registrations by a centre's duty officers (a call, a walk-in, a resident, a 12345 work order). Each becomes an
 * incident written through the incident service (createCase), then moved by the same lifecycle actions a worker
 * takes on a device's case, so routing, notifications, deadlines, escalation, evidence and assessment apply alike.
 * A reporter's full name and number are kept apart (reporter-contacts), read only through {@link reporterOf}.
 */
export class PeopleCases {
  readonly #options: PeopleCasesOptions;
  readonly #metrics: ReturnType<typeof peopleCaseMetrics>;

  constructor(options: PeopleCasesOptions) {
    this.#options = options;
    this.#metrics = peopleCaseMetrics(options.metrics);
  }

  /** A grid worker's or chief's field report, along the path they chose. */
  async report(by: Principal, report: FieldReport): Promise<Incident> {
    const entry = this.#entry(report.category, report.subcategory);
    const placed = placeReport(
      this.#options.jurisdiction,
      this.#options.coordinates,
      report.position,
      report.gridId,
      by.scopeNodeIds,
    );
    if ('problem' in placed) throw this.#refuse('not_placed', 'invalid_request', placed.problem);
    if (report.path === 'on_spot' && !report.note)
      throw this.#refuse('no_note', 'invalid_request', 'note: handling on the spot needs what was done');
    const grid = placed.grid;
    const [, community, street, district] = grid.chain;
    const now = Date.now();
    const origin: CaseOrigin = { kind: 'field_report', reportedBy: by.userId, path: report.path };
    const base = this.#incident(entry, grid, now, origin, pathSeverity[report.path], {
      description: report.description,
      ...(report.position === undefined ? {} : { position: report.position }),
      ...(report.address === undefined ? {} : { address: report.address }),
    });
    const communityId = community?.id ?? grid.ref.id;
    const byPath: Record<FieldReportPath, () => Incident> = {
      // 一般性: the reporter handles it; created as theirs and moved through accept → arrive → resolve below.
      on_spot: () => this.#dispatchedTo(base, [by.userId], now),
      // 需要协调: brought back to the community acceptance centre, whose officers dispatch it.
      coordinate: () => ({ ...base, responsibleNodeId: communityId }),
      // 突发性: the reporter tracks it on site while the community and street centres are alerted at once.
      urgent: () =>
        this.#dispatchedTo(
          base,
          [by.userId, ...this.#officers(community?.id, now), ...this.#officers(street?.id, now)],
          now,
        ),
      // 需要审批: up the chain community → street → district; the lifecycle's approve/deny actions move it.
      approval: () => ({
        ...base,
        responsibleNodeId: communityId,
        approval: {
          chain: [community?.id, street?.id, district?.id].filter((id): id is string => id !== undefined),
          at: 0,
          decisions: [],
        },
      }),
    };
    let incident = await this.#options.incidents.createCase(byPath[report.path]());
    await this.#audit(by, incident, { path: report.path });
    const { incidents } = this.#options;
    if (report.path === 'on_spot' || report.path === 'urgent') {
      incident = await incidents.act(by, incident.id, 'accept');
      incident = await incidents.act(by, incident.id, 'arrive', {});
    }
    if (report.path === 'on_spot')
      incident = await incidents.act(by, incident.id, 'resolve', { note: report.note ?? '' });
    this.#metrics.created.labels('field_report', report.path).inc();
    return incident;
  }

  /** A duty officer's registration of a case from a call, a visit, a resident or a 12345 work order. */
  async register(by: Principal, registration: Registration): Promise<Incident> {
    const entry = this.#entry(registration.category, registration.subcategory);
    const grid = this.#gridOf(registration);
    if (!by.scopeNodeIds.some((nodeId) => grid.chain.some((node) => node.id === nodeId)))
      throw this.#refuse('out_of_scope', 'not_found', `no grid ${grid.ref.id}`);
    const now = Date.now();
    const reporter = registration.reporter;
    const hasContact = reporter?.phone !== undefined;
    const origin: CaseOrigin = {
      kind: registration.source,
      reportedBy: by.userId,
      ...(registration.externalId === undefined ? {} : { externalId: registration.externalId }),
      ...(registration.deadline === undefined ? {} : { deadline: registration.deadline }),
      ...(reporter === undefined
        ? {}
        : {
            reporter: {
              ...(reporter.name === undefined ? {} : { name: minimisedName(reporter.name) }),
              hasContact,
            },
          }),
    };
    const base = this.#incident(entry, grid, now, origin, 'warning', {
      description: registration.description,
      ...(registration.position === undefined ? {} : { position: registration.position }),
      ...(registration.address === undefined ? {} : { address: registration.address }),
    });
    const route = this.#options.router.route(
      { gridId: grid.ref.id, chain: grid.chain, category: entry.category },
      now,
    );
    const routed =
      route.assignees.length > 0
        ? { ...this.#dispatchedTo(base, route.assignees, now), responsibleNodeId: route.responsibleNodeId }
        : { ...base, responsibleNodeId: route.responsibleNodeId };
    const titled = registration.title === undefined ? routed : { ...routed, title: registration.title };
    // The contact first: a case that names a reporter never exists without where to reach them.
    if (reporter !== undefined && (reporter.name !== undefined || reporter.phone !== undefined)) {
      const contact: ReporterContact = {
        ...(reporter.name === undefined ? {} : { name: reporter.name }),
        ...(reporter.phone === undefined ? {} : { phone: reporter.phone }),
      };
      // Kept for a while, then gone with nothing left of it (the store sweeps records past their end).
      const keptUntil = (this.#options.now ?? Date.now)() + this.#options.reporterRetentionMs;
      await this.#options.store.putRecord(reporterContactsCollection, titled.id, contact, keptUntil);
    }
    const incident = await this.#options.incidents.createCase(titled);
    await this.#audit(by, incident, { source: registration.source });
    this.#metrics.created.labels(registration.source, 'register').inc();
    return incident;
  }

  /**
   * A reporter's contact, for the case's handler and assignees and the officers of its responsible centre only;
   * every read, refused or not, is an audit entry (reporter.viewed). Anyone else who may see the case is refused;
   * one who may not gets not_found, as for the case itself.
   */
  async reporterOf(by: Principal, incidentId: string): Promise<ReporterContact> {
    const incident =
      this.#options.incidents.active(incidentId) ?? (await this.#options.store.getIncident(incidentId));
    if (incident === undefined || !this.#options.visibility.canSee(by, incident)) {
      this.#metrics.contactReads.labels('not_found').inc();
      throw refused('not_found', `no incident ${incidentId}`);
    }
    const handles =
      incident.handler === by.userId ||
      incident.assignees.includes(by.userId) ||
      (by.role === 'duty_officer' && by.scopeNodeIds.includes(responsibleCentreOf(incident)));
    const audit = (outcome: 'ok' | 'refused') =>
      this.#options.store.appendAudit(
        AuditTrail.entry(by, {
          action: 'reporter.viewed',
          target: { kind: 'incident', id: incidentId },
          outcome,
          detail: {},
        }),
      );
    if (!handles) {
      await audit('refused');
      this.#metrics.contactReads.labels('forbidden').inc();
      throw refused('forbidden', "only the case's handler and its responsible centre may see the reporter");
    }
    await audit('ok');
    this.#metrics.contactReads.labels('ok').inc();
    return (
      (await this.#options.store.getRecord<ReporterContact>(reporterContactsCollection, incidentId)) ?? {}
    );
  }

  /** The catalogue's entry, or a refusal: cases are filed under the catalogue's categories only. */
  #entry(category: string, subcategory: string | undefined): CatalogueEntry {
    const entry = this.#options.catalogue.entry(category, subcategory);
    if (entry === undefined)
      throw this.#refuse(
        'unknown_category',
        'invalid_request',
        `category: ${subcategory === undefined ? category : `${category}/${subcategory}`} is not in the catalogue`,
      );
    return entry;
  }

  #gridOf(registration: Registration): GridEntry {
    const { jurisdiction } = this.#options;
    if (registration.gridId !== undefined) {
      const grid = jurisdiction.grid(registration.gridId);
      if (grid === undefined)
        throw this.#refuse('not_placed', 'invalid_request', `gridId: no grid ${registration.gridId}`);
      return grid;
    }
    if (registration.position !== undefined) {
      const placed = placeReport(
        jurisdiction,
        this.#options.coordinates,
        registration.position,
        undefined,
        [...jurisdiction.grids].map((grid) => grid.ref.id),
      );
      if ('grid' in placed) return placed.grid;
    }
    throw this.#refuse('not_placed', 'invalid_request', 'place: give a gridId or a position inside a grid');
  }

  #officers(nodeId: string | undefined, now: number): string[] {
    return nodeId === undefined ? [] : this.#options.router.officersOnDuty(nodeId, now);
  }

  #dispatchedTo(incident: Incident, assignees: readonly string[], now: number): Incident {
    const acceptBy = new Date(
      now + this.#options.incidents.deadlineMs(deadlineCategoryOf(incident), 'accept'),
    );
    return {
      ...incident,
      state: 'dispatched',
      assignees: [...new Set(assignees)],
      dueAt: acceptBy.toISOString(),
      timeline: { ...incident.timeline, dispatchedAt: incident.createdAt, acceptBy: acceptBy.toISOString() },
    };
  }

  /** A new people's case of the grid, for the centre (state new), before its path or route says otherwise. */
  #incident(
    entry: CatalogueEntry,
    grid: GridEntry,
    now: number,
    origin: CaseOrigin,
    severity: Severity,
    what: { description: string; position?: readonly [number, number]; address?: string },
  ): Incident {
    const at = new Date(now).toISOString();
    const key = deadlineCategoryOf({
      category: entry.category,
      ...(entry.subcategory === undefined ? {} : { subcategory: entry.subcategory }),
    });
    const { incidents } = this.#options;
    const place =
      what.position === undefined && what.address === undefined
        ? undefined
        : {
            ...(what.position === undefined
              ? {}
              : { position: [what.position[0], what.position[1]] as const }),
            ...(what.address === undefined ? {} : { address: what.address }),
          };
    return {
      id: timeOrderedId('inc', now),
      state: 'new',
      title: entry.subcategoryName ?? entry.categoryName,
      category: entry.category,
      ...(entry.subcategory === undefined ? {} : { subcategory: entry.subcategory }),
      severity: severityRank[severity] >= severityRank.warning ? severity : 'info',
      device: caseSourceDevice(origin.kind, what.address),
      event: { type: `case.${origin.kind}`, occurredAt: at, attributes: {} },
      gridId: grid.ref.id,
      chain: grid.chain,
      createdAt: at,
      updatedAt: at,
      occurrences: 1,
      lastOccurredAt: at,
      related: [],
      assignees: [],
      handler: null,
      responsibleNodeId: grid.ref.id,
      escalations: 0,
      dueStage: 'accept',
      dueAt: new Date(now + incidents.deadlineMs(key, 'accept')).toISOString(),
      reworks: 0,
      timeline: { resolveBy: new Date(now + incidents.deadlineMs(key, 'resolve')).toISOString() },
      origin,
      description: what.description,
      ...(place === undefined ? {} : { place }),
    };
  }

  #audit(by: Principal, incident: Incident, detail: Record<string, unknown>): Promise<void> {
    return this.#options.store.appendAudit(
      AuditTrail.entry(by, {
        action: 'case.report',
        target: { kind: 'incident', id: incident.id },
        outcome: 'ok',
        detail: { ...detail, category: incident.category, state: incident.state },
      }),
    );
  }

  #refuse(reason: string, code: 'invalid_request' | 'not_found', message: string) {
    this.#metrics.refused.labels(reason).inc();
    return refused(code === 'invalid_request' ? 'invalid' : 'not_found', message);
  }
}
