import type { CommandReply } from './adapter.ts';
import type { DeviceEvent } from './device-event.ts';
import type { DeviceStatus } from './device-status.ts';
import type { RequestErrorCode } from './errors.ts';
import type { Incident, IncidentChange } from './incident.ts';
import type { WorkerPosition, WorkerPositionStopped } from './position.ts';
import type { DeadLetter } from './refusals.ts';

/**
 * The typed event maps, one per boundary. Every emit and every listener is checked against these:
 * there are no stringly-typed events anywhere in the hub.
 */

/** The in-process bus between the hub's components. */
export interface HubBusEvents {
  /** A device event passed validation and decoding. */
  'device:event': [event: DeviceEvent];
  /**
   * An incident was created. `receivedAt` is performance.now() at ingest. `stored` is its commit, given when the
   * incident is announced before it: a device's alarm is shown to the live views as soon as it is decided (one
   * instance; see LoneIncidentWriter), and whatever leaves the hub for good waits for `whenStored`. Absent: committed.
   */
  'incident:created': [incident: Incident, receivedAt: number, stored?: Promise<unknown>];
  /**
   * A device event came again whose change was already committed (on several instances, by one that may have died
   * before its push left): the incident it went into, as stored now, to push again. Clients key incidents by id.
   */
  'incident:replayed': [incident: Incident];
  /**
   * An incident changed. `repeat` is given when the change is only that: device events folded into the open
   * incident (dedupe), so pushes can carry the delta instead of both incidents. `stored` as for incident:created: a
   * repeat is announced before its commit, every other change once committed.
   */
  'incident:updated': [change: IncidentChange, repeat?: IncidentRepeat, stored?: Promise<unknown>];
  /** A device message was refused and kept as a dead letter. */
  'message:refused': [deadLetter: DeadLetter];
  /** A device went online or offline, or was disabled or enabled. */
  'device:status': [status: DeviceStatus];
  /** A device was provisioned, disabled or enabled: components that hold sessions to devices follow it. */
  'device:changed': [deviceId: string];
  /** A device answered a command. */
  'command:reply': [deviceId: string, reply: CommandReply];
  /** A grid worker on duty shared a position (kept): for the officers over their grids. */
  'worker:position': [position: WorkerPosition];
  /** A worker stopped sharing, or went off shift: their position leaves the officers' maps. */
  'worker:position-stopped': [stopped: WorkerPositionStopped];
}

const ignoreFailure = (): void => {};

/**
 * Runs `then` once an announced change is committed: at once when it came committed (no `stored`), never when its
 * commit failed (the device is not acknowledged and sends the event again). For what leaves the hub for good: the
 * outbound feed, webhooks, evidence. A `then` that throws later is a bug of its listener: it is reported as a process
 * warning, not left to end the hub as an unhandled rejection.
 */
export function whenStored(stored: Promise<unknown> | undefined, then: () => void): void {
  if (stored === undefined) then();
  else stored.then(then, ignoreFailure).catch(reportLateFailure);
}

function reportLateFailure(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error), 'StoredListenerWarning');
}

/**
 * What a repeat changes (after Frigate's `{type: 'update'}` deltas): the device raised the same event again while its
 * incident was open, and the incident now counts it. A client applies it to the incident it holds by `id`; one
 * that does not hold the incident has nothing to update (it was not entitled to it, or will load it fresh).
 */
export interface IncidentRepeat {
  readonly id: string;
  readonly occurrences: number;
  /** ISO 8601: the device's own time of the newest repeat. */
  readonly lastOccurredAt: string;
  readonly updatedAt: string;
  /** Only where the change carried one (several hubs sharing a store): the incident's version after it. */
  readonly version?: number;
}

/** Socket.IO, server → client. Imported by the hub, the tests and any TypeScript client alike. */
export interface ServerToClientEvents {
  'incident:new': (incident: Incident) => void;
  'incident:update': (change: IncidentChange) => void;
  /** Repeats folded into an open incident (dedupe): only the fields that changed; everything else is as it was. */
  'incident:repeat': (repeat: IncidentRepeat) => void;
  'device:status': (status: DeviceStatus) => void;
  /** An on-duty worker's position, to the officers whose scope covers one of the worker's grids. */
  'worker:position': (position: WorkerPosition) => void;
  /** That worker's position is no longer shared (turned off, or off shift): remove their marker. */
  'worker:position-stopped': (stopped: WorkerPositionStopped) => void;
}

/** What a client asks of an incident over Socket.IO: a lifecycle action with its note. */
export interface IncidentActionRequest {
  readonly incidentId: string;
  /** acknowledge, accept, arrive, resolve, verify, reject, escalate, false_alarm, cancel, note, supervise, dispatch. */
  readonly action: string;
  readonly note?: string;
  readonly assignees?: readonly string[];
}

/** Every request over Socket.IO is answered, errors included (zigbee2mqtt's bridge/response). */
export type ActionAcknowledgement =
  | { readonly ok: true; readonly incident: Incident }
  /** The codes of REST's refusals, from the one catalogue (errors.ts). */
  | { readonly ok: false; readonly error: { readonly code: RequestErrorCode; readonly message: string } };

/** Socket.IO, client → server. */
export interface ClientToServerEvents {
  'incident:act': (
    request: IncidentActionRequest,
    acknowledge: (answer: ActionAcknowledgement) => void,
  ) => void;
}

/** Per-socket data the server keeps after the handshake. */
export interface SocketData {
  principal: import('./principal.ts').Principal;
}
