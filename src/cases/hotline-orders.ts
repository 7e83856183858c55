import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditEntry } from '../core/audit.ts';
import { GridhubError, refused } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import { KeyedSerial } from '../core/keyed-serial.ts';
import type { Principal } from '../core/principal.ts';
import type { CoordinateSystem } from '../field/geo.ts';
import type { IncidentService } from '../incidents/incident-service.ts';
import type { Visibility } from '../incidents/visibility.ts';
import type { Jurisdiction } from '../jurisdiction/jurisdiction.ts';
import { declareMetrics, type MetricsRegistry } from '../observability/metrics-registry.ts';
import type { Store } from '../store/store.ts';
import type { Catalogue } from './catalogue.ts';
import type { HotlineConfig, HotlinePlatform } from './hotline-schema.ts';
import type { PeopleCases } from './people-cases.ts';
import { toConfigSystem } from './placement.ts';

export const hotlineOrdersCollection = 'hotline-orders';
/** How long a 签收 or 退单 holds its order across instances (a failed attempt's claim lapses then). */
const takeClaimMs = 10 * 60_000;
export const hotlineNoncesCollection = 'hotline-nonces';

/** A case in these states is over: its order may be neither signed for nor returned. */
const endedStates: ReadonlySet<Incident['state']> = new Set(['closed', 'cancelled', 'false_alarm']);

/** Why a signed request was refused: each counted (gridhub_hotline_refusals_total). */
export const hotlineRefusalReasons = [
  'missing_headers',
  'unknown_app_key',
  'stale_timestamp',
  'bad_signature',
  'replayed_nonce',
] as const;
export type HotlineRefusalReason = (typeof hotlineRefusalReasons)[number];

/** A work order as the hub keeps it (key: its number). The reporter's contact is kept with the case's, not here. */
export interface HotlineOrder {
  readonly no: string;
  readonly appKey: string;
  readonly incidentId: string;
  readonly title: string;
  readonly categoryCode: string;
  readonly receivedAt: string;
  readonly deadline?: string;
  readonly signed?: { readonly by: string; readonly at: string };
  readonly returned?: { readonly by: string; readonly at: string; readonly reason: string };
  readonly visit?: {
    readonly satisfied: boolean;
    readonly note?: string;
    readonly at: string;
    readonly reopened: boolean;
  };
}

export interface NewWorkOrder {
  readonly no: string;
  readonly title: string;
  readonly content: string;
  readonly categoryCode: string;
  readonly address?: string;
  readonly position?: readonly [number, number];
  readonly reporter?: { readonly name?: string; readonly phone?: string };
  readonly deadline?: string;
}

/** What the platform reads of its order (GET work-orders/:no): never the reporter's contact. */
export interface WorkOrderView {
  readonly no: string;
  readonly state: 'received' | 'signed' | 'handling' | 'resolved' | 'closed' | 'returned' | 'cancelled';
  readonly receivedAt: string;
  readonly deadline?: string;
  readonly signedAt?: string;
  readonly returnReason?: string;
  readonly returnedAt?: string;
  readonly result?: { readonly resolution: string; readonly resolvedAt: string; readonly department: string };
  readonly visit?: HotlineOrder['visit'];
}

/** What a duty officer's console shows of a case's order (GET /api/incidents/{id}/work-order): people by name. */
export interface OfficerWorkOrderView {
  readonly no: string;
  /** The platform's name (hotline.platforms[].name). */
  readonly platform: string;
  readonly state: WorkOrderView['state'];
  readonly receivedAt: string;
  readonly deadline?: string;
  readonly signed?: { readonly by: string; readonly at: string };
  readonly returned?: { readonly by: string; readonly at: string; readonly reason: string };
  readonly result?: WorkOrderView['result'];
  readonly visit?: HotlineOrder['visit'];
  /** What this officer may do to the order now: 签收 and 退单 until either is done, while the case is not over. */
  readonly actions: ('sign' | 'return')[];
}

export interface SignedRequest {
  readonly method: string;
  /** The path as sent, with its query string. */
  readonly path: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface HotlineOrdersOptions {
  readonly config: HotlineConfig;
  readonly peopleCases: PeopleCases;
  readonly incidents: IncidentService;
  readonly visibility: Visibility;
  readonly catalogue: Catalogue;
  readonly jurisdiction: Jurisdiction;
  readonly coordinates: CoordinateSystem;
  /** The principal of a configured user (the platform's registeredBy officer). */
  readonly principal: (userId: string) => Principal | undefined;
  readonly store: Store;
  readonly metrics: MetricsRegistry;
  readonly now?: () => number;
}

const hotlineMetrics = declareMetrics((registry) => ({
  refusals: registry.counter({
    name: 'gridhub_hotline_refusals_total',
    help: '12345 API requests refused before reaching a work order, by reason: missing_headers, unknown_app_key, stale_timestamp, bad_signature, replayed_nonce.',
    labelNames: ['reason'] as const,
    shownAtZero: { reason: hotlineRefusalReasons },
  }),
  orders: registry.counter({
    name: 'gridhub_hotline_orders_total',
    help: '12345 work orders, by what happened: received, signed, returned, visited_satisfied, visited_unsatisfied.',
    labelNames: ['event'] as const,
  }),
}));

/** sha256 hex of a body: what the signature covers of it. */
export function bodyDigest(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The signature a platform sends: hex HMAC-SHA256(secret, method \n path \n timestamp \n nonce \n sha256hex(body)). */
export function hotlineSignature(
  secret: string,
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return createHmac('sha256', secret)
    .update(`${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${bodyDigest(body)}`)
    .digest('hex');
}

const header = (headers: SignedRequest['headers'], name: string): string | undefined => {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The 12345 inbound work-order API's side in the hub (#25 point 2): signed requests checked, orders registered as
 * people's cases (source hotline_12345) through PeopleCases, signed for (签收) and returned (退单) by the hub's duty
 * officers, read back by the platform (state, result, return reason), and the follow-up call (回访) recorded.
 */
export class HotlineOrders {
  readonly #options: HotlineOrdersOptions;
  readonly #platforms: ReadonlyMap<string, HotlinePlatform>;
  readonly #metrics: ReturnType<typeof hotlineMetrics>;
  /** Each order's 签收, 退单 and 回访 one at a time on this instance: each writes the order over what it read. */
  readonly #orders = new KeyedSerial();

  constructor(options: HotlineOrdersOptions) {
    this.#options = options;
    this.#platforms = new Map(options.config.platforms.map((platform) => [platform.appKey, platform]));
    this.#metrics = hotlineMetrics(options.metrics);
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Checks a platform's signed request; answers its platform, or throws 401 with the reason counted. */
  async verify(request: SignedRequest): Promise<HotlinePlatform> {
    const appKey = header(request.headers, 'x-app-key');
    const timestamp = header(request.headers, 'x-timestamp');
    const nonce = header(request.headers, 'x-nonce');
    const signature = header(request.headers, 'x-signature');
    if (
      appKey === undefined ||
      timestamp === undefined ||
      nonce === undefined ||
      signature === undefined ||
      !/^[A-Za-z0-9_-]{8,64}$/.test(nonce) ||
      !/^\d{10,13}$/.test(timestamp)
    )
      throw this.#refuse('missing_headers');
    const platform = this.#platforms.get(appKey);
    if (platform === undefined) throw this.#refuse('unknown_app_key');
    // Seconds or milliseconds since the epoch.
    const at = timestamp.length <= 10 ? Number(timestamp) * 1000 : Number(timestamp);
    const windowMs = this.#options.config.windowSeconds * 1000;
    if (Math.abs(this.#now() - at) > windowMs) throw this.#refuse('stale_timestamp');
    const expected = Buffer.from(
      hotlineSignature(platform.secret, request.method, request.path, timestamp, nonce, request.body),
    );
    const given = Buffer.from(signature.toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw this.#refuse('bad_signature');
    // Only a well-signed request spends its nonce: nobody else can burn a platform's nonces.
    const key = `${appKey}:${nonce}`;
    const { store } = this.#options;
    if ((await store.getRecord(hotlineNoncesCollection, key)) !== undefined)
      throw this.#refuse('replayed_nonce');
    await store.putRecord(hotlineNoncesCollection, key, 1, this.#now() + 2 * windowMs);
    return platform;
  }

  /** A new work order: registered as a case. The same number again answers the order as it stands (a retry). */
  async create(platform: HotlinePlatform, order: NewWorkOrder): Promise<WorkOrderView> {
    const { store } = this.#options;
    const existing = await store.getRecord<HotlineOrder>(hotlineOrdersCollection, order.no);
    if (existing !== undefined) {
      if (existing.appKey !== platform.appKey) throw refused('not_found', `no work order ${order.no}`);
      return this.#view(existing);
    }
    const officer = this.#options.principal(platform.registeredBy);
    if (officer === undefined) throw new GridhubError('internal', `no user ${platform.registeredBy}`);
    const [category, subcategory] = this.#categoryOf(order.categoryCode);
    const gridId = this.#gridOf(order.position, officer) ?? platform.intakeGrid;
    const incident = await this.#options.peopleCases.register(officer, {
      source: 'hotline_12345',
      ...(order.reporter === undefined ? {} : { reporter: order.reporter }),
      gridId,
      ...(order.position === undefined ? {} : { position: order.position }),
      ...(order.address === undefined ? {} : { address: order.address }),
      category,
      ...(subcategory === undefined ? {} : { subcategory }),
      description: order.content,
      title: order.title,
      externalId: order.no,
      ...(order.deadline === undefined ? {} : { deadline: order.deadline }),
    });
    const kept: HotlineOrder = {
      no: order.no,
      appKey: platform.appKey,
      incidentId: incident.id,
      title: order.title,
      categoryCode: order.categoryCode,
      receivedAt: new Date(this.#now()).toISOString(),
      ...(order.deadline === undefined ? {} : { deadline: order.deadline }),
    };
    await store.putRecord(hotlineOrdersCollection, order.no, kept);
    this.#metrics.orders.labels('received').inc();
    return this.#view(kept, incident);
  }

  /** The platform's own order as it stands. */
  async read(platform: HotlinePlatform, no: string): Promise<WorkOrderView> {
    return this.#view(await this.#platformOrder(platform, no));
  }

  /**
   * 签收: a duty officer who may see the case signs for the order; once, before any 退单, while the case is not
   * over. Recorded on the case too (origin.signedAt), so every console's list shows it signed at once.
   */
  sign(by: Principal, no: string): Promise<WorkOrderView> {
    return this.#orders.run(no, () => this.#sign(by, no));
  }

  async #sign(by: Principal, no: string): Promise<WorkOrderView> {
    const order = await this.#officerOrder(by, no);
    await this.#take(order, await this.#incident(order));
    const at = new Date(this.#now()).toISOString();
    const signed: HotlineOrder = { ...order, signed: { by: by.userId, at } };
    await this.#options.store.putRecord(hotlineOrdersCollection, no, signed);
    await this.#options.incidents.amendCase(
      order.incidentId,
      (incident) =>
        incident.origin === undefined
          ? incident
          : { ...incident, origin: { ...incident.origin, signedAt: at } },
      this.#auditEntry(by, order, 'hotline.sign', {}),
    );
    this.#metrics.orders.labels('signed').inc();
    return this.#view(signed);
  }

  /**
   * 退单: a duty officer sends the order back with a reason, instead of signing for it (once signed, the centre
   * answers for it); its case is cancelled with that reason.
   */
  return(by: Principal, no: string, reason: string): Promise<WorkOrderView> {
    return this.#orders.run(no, () => this.#return(by, no, reason));
  }

  async #return(by: Principal, no: string, reason: string): Promise<WorkOrderView> {
    const order = await this.#officerOrder(by, no);
    await this.#take(order, await this.#incident(order));
    await this.#options.incidents.act(by, order.incidentId, 'cancel', { note: `退单：${reason}` });
    const returned: HotlineOrder = {
      ...order,
      returned: { by: by.userId, at: new Date(this.#now()).toISOString(), reason },
    };
    await this.#options.store.putRecord(hotlineOrdersCollection, no, returned);
    // Announced again once the order says returned: a console redrawn by the cancellation alone may read it before.
    await this.#options.incidents.amendCase(
      order.incidentId,
      (incident) => incident,
      this.#auditEntry(by, order, 'hotline.return', { reason }),
    );
    this.#metrics.orders.labels('returned').inc();
    return this.#view(returned);
  }

  /** A case's order as its duty officer's console shows it: only to an officer who may see the case. */
  async ofCase(by: Principal, incidentId: string): Promise<OfficerWorkOrderView> {
    const incident =
      this.#options.incidents.active(incidentId) ?? (await this.#options.store.getIncident(incidentId));
    const no = incident?.origin?.kind === 'hotline_12345' ? incident.origin.externalId : undefined;
    const order =
      no === undefined
        ? undefined
        : await this.#options.store.getRecord<HotlineOrder>(hotlineOrdersCollection, no);
    if (
      incident === undefined ||
      order === undefined ||
      order.incidentId !== incident.id ||
      !this.#options.visibility.canSee(by, incident)
    )
      throw refused('not_found', `no work order for incident ${incidentId}`);
    const view = await this.#view(order, incident);
    const nameOf = (userId: string) => this.#options.principal(userId)?.name ?? userId;
    return {
      no: order.no,
      platform: this.#platforms.get(order.appKey)?.name ?? order.appKey,
      state: view.state,
      receivedAt: order.receivedAt,
      ...(order.deadline === undefined ? {} : { deadline: order.deadline }),
      ...(order.signed === undefined ? {} : { signed: { by: nameOf(order.signed.by), at: order.signed.at } }),
      ...(order.returned === undefined
        ? {}
        : { returned: { ...order.returned, by: nameOf(order.returned.by) } }),
      ...(view.result === undefined ? {} : { result: view.result }),
      ...(order.visit === undefined ? {} : { visit: order.visit }),
      actions: this.#refusalToTake(order, incident) === undefined ? ['sign', 'return'] : [],
    };
  }

  /** Why the order may be neither signed for nor returned now; undefined when it may. */
  #refusalToTake(order: HotlineOrder, incident: Incident | undefined): string | undefined {
    if (order.returned !== undefined) return 'already returned';
    if (order.signed !== undefined) return 'already signed';
    if (incident === undefined || endedStates.has(incident.state)) return 'its case is over';
    return undefined;
  }

  /**
   * 签收 and 退单 exclude each other and each happens once: checked here (the order read on this instance's queue of
   * it), then claimed across the instances sharing the store, so two officers on two hubs cannot both succeed. A
   * claim spent by a failed attempt lets the order be taken again after ten minutes.
   */
  async #take(order: HotlineOrder, incident: Incident | undefined): Promise<void> {
    const refusal = this.#refusalToTake(order, incident);
    if (refusal !== undefined) throw refused('illegal', refusal);
    if (!(await this.#options.store.claim(`hotline-take:${order.no}`, takeClaimMs)))
      throw refused('illegal', 'the order is being signed or returned at another console');
  }

  /**
   * 回访: the platform's follow-up call, once the case has a result. Not satisfied: a case still awaiting verification
   * goes back to its handler for rework (reject, as the registering officer, with the platform's note); a case
   * already closed is flagged on the order (the centre sees it in the audit trail and GET) and not reopened.
   */
  visit(platform: HotlinePlatform, no: string, satisfied: boolean, note?: string): Promise<WorkOrderView> {
    return this.#orders.run(no, () => this.#visit(platform, no, satisfied, note));
  }

  async #visit(
    platform: HotlinePlatform,
    no: string,
    satisfied: boolean,
    note?: string,
  ): Promise<WorkOrderView> {
    const order = await this.#platformOrder(platform, no);
    const incident = await this.#incident(order);
    if (incident === undefined || (incident.state !== 'resolved' && incident.state !== 'closed'))
      throw refused('illegal', 'the work order has no result yet');
    let reopened = false;
    if (!satisfied && incident.state === 'resolved') {
      const officer = this.#options.principal(platform.registeredBy);
      if (officer !== undefined) {
        await this.#options.incidents.act(officer, order.incidentId, 'reject', {
          note: `12345回访不满意${note === undefined ? '' : `：${note}`}`,
        });
        reopened = true;
      }
    }
    const visited: HotlineOrder = {
      ...order,
      visit: {
        satisfied,
        ...(note === undefined ? {} : { note }),
        at: new Date(this.#now()).toISOString(),
        reopened,
      },
    };
    await this.#options.store.putRecord(hotlineOrdersCollection, no, visited);
    // On the case as well, so the consoles showing it draw the 回访 at once.
    await this.#options.incidents.amendCase(
      order.incidentId,
      (incident) => incident,
      this.#auditEntry('system', order, 'hotline.visit', { satisfied, reopened }),
    );
    this.#metrics.orders.labels(satisfied ? 'visited_satisfied' : 'visited_unsatisfied').inc();
    return this.#view(visited);
  }

  #categoryOf(code: string): [string, string | undefined] {
    const { config, catalogue } = this.#options;
    const mapped = config.categoryCodes[code];
    const byStandard = catalogue.byCode(code);
    const key =
      mapped ??
      (byStandard === undefined
        ? config.fallbackCategory
        : byStandard.subcategory === undefined
          ? byStandard.category
          : `${byStandard.category}/${byStandard.subcategory}`);
    const [category, subcategory] = key.split('/');
    return [category ?? config.fallbackCategory, subcategory];
  }

  /** The grid of a position, when it is one the registering officer's centre covers. */
  #gridOf(position: readonly [number, number] | undefined, officer: Principal): string | undefined {
    if (position === undefined) return undefined;
    const grid = this.#options.jurisdiction.locate(...toConfigSystem(position, this.#options.coordinates));
    if (grid === undefined) return undefined;
    return grid.chain.some((node) => officer.scopeNodeIds.includes(node.id)) ? grid.ref.id : undefined;
  }

  async #platformOrder(platform: HotlinePlatform, no: string): Promise<HotlineOrder> {
    const order = await this.#options.store.getRecord<HotlineOrder>(hotlineOrdersCollection, no);
    if (order === undefined || order.appKey !== platform.appKey)
      throw refused('not_found', `no work order ${no}`);
    return order;
  }

  async #officerOrder(by: Principal, no: string): Promise<HotlineOrder> {
    const order = await this.#options.store.getRecord<HotlineOrder>(hotlineOrdersCollection, no);
    const incident = order === undefined ? undefined : await this.#incident(order);
    if (order === undefined || incident === undefined || !this.#options.visibility.canSee(by, incident))
      throw refused('not_found', `no work order ${no}`);
    return order;
  }

  async #incident(order: HotlineOrder): Promise<Incident | undefined> {
    return (
      this.#options.incidents.active(order.incidentId) ??
      (await this.#options.store.getIncident(order.incidentId))
    );
  }

  async #view(order: HotlineOrder, known?: Incident): Promise<WorkOrderView> {
    const incident = known ?? (await this.#incident(order));
    const state: WorkOrderView['state'] =
      order.returned !== undefined
        ? 'returned'
        : incident === undefined || incident.state === 'cancelled' || incident.state === 'false_alarm'
          ? 'cancelled'
          : incident.state === 'closed'
            ? 'closed'
            : incident.state === 'resolved'
              ? 'resolved'
              : incident.state === 'accepted' || incident.state === 'on_site'
                ? 'handling'
                : order.signed !== undefined
                  ? 'signed'
                  : 'received';
    const department = incident === undefined ? undefined : this.#departmentOf(incident);
    return {
      no: order.no,
      state,
      receivedAt: order.receivedAt,
      ...(order.deadline === undefined ? {} : { deadline: order.deadline }),
      ...(order.signed === undefined ? {} : { signedAt: order.signed.at }),
      ...(order.returned === undefined
        ? {}
        : { returnReason: order.returned.reason, returnedAt: order.returned.at }),
      ...(incident?.resolvedAt === undefined || (state !== 'resolved' && state !== 'closed')
        ? {}
        : {
            result: {
              resolution: incident.resolution ?? '',
              resolvedAt: incident.resolvedAt,
              department: department ?? '',
            },
          }),
      ...(order.visit === undefined ? {} : { visit: order.visit }),
    };
  }

  /** The handler's department: the category's responsible department, else the responsible centre's name. */
  #departmentOf(incident: Incident): string | undefined {
    const entry = this.#options.catalogue.entry(incident.category, incident.subcategory);
    return entry?.department?.name ?? this.#options.jurisdiction.node(incident.responsibleNodeId)?.name;
  }

  #auditEntry(
    by: Principal | 'system',
    order: HotlineOrder,
    action: string,
    detail: Record<string, unknown>,
  ): AuditEntry {
    return AuditTrail.entry(by, {
      action,
      target: { kind: 'incident', id: order.incidentId },
      outcome: 'ok',
      detail: { no: order.no, appKey: order.appKey, ...detail },
    });
  }

  #refuse(reason: HotlineRefusalReason): GridhubError {
    this.#metrics.refusals.labels(reason).inc();
    return new GridhubError('unauthorized', `the request's signature was refused (${reason})`);
  }
}
