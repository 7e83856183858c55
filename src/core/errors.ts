/**
 * One catalogue of coded errors, after fastify's lib/errors.js: each code with its HTTP status and a default
 * message, thrown as one class, {@link GridhubError}.
 *
 * Two kinds of codes. `GRIDHUB_*` are configuration and contract faults: they stop the operation (or the start-up)
 * with a code an operator can search for; on a request they answer 500 `internal`, their message kept for the log.
 * The lowercase codes are a caller's request refused: REST answers `{error: {code, message, problems?}}` with the
 * status, a Socket.IO acknowledgement `{ok: false, error: {code, message}}`. Clients read these codes: they never
 * change. Device and runtime faults are not errors in this sense: they are refusals, logged, counted and shown as
 * status (see core/refusals.ts), and never thrown out of the ingest path.
 */
export const errorCatalogue = {
  GRIDHUB_CONFIG_INVALID: { status: 500, message: 'the configuration is invalid' },
  GRIDHUB_CONFIG_UNREADABLE: { status: 500, message: 'the configuration file cannot be read' },
  GRIDHUB_PORT_IN_USE: { status: 500, message: 'a port is already in use' },
  GRIDHUB_LISTEN_FAILED: { status: 500, message: 'a server could not listen' },
  GRIDHUB_STORE_FAILED: { status: 500, message: 'the store could not be opened' },
  GRIDHUB_ADAPTER_INVALID: { status: 500, message: 'a device adapter definition is invalid' },
  GRIDHUB_DEMO_SECRETS: { status: 500, message: "the demo's public secrets on a non-loopback address" },

  /** The request's input breaks its schema or a rule of the domain; `problems` says where, as `path: message`. */
  invalid_request: { status: 400, message: 'the request is invalid' },
  /** Fastify's own refusals of a request it cannot read (a body that is not JSON). */
  bad_request: { status: 400, message: 'the request cannot be read' },
  /** Logging out with an API token, which has no session. */
  no_session: { status: 400, message: 'an API token has no session to end' },
  unauthorized: { status: 401, message: 'a valid bearer token is required (Authorization: Bearer <token>)' },
  /** A refused login: it never tells an unknown user from a wrong password or a locked name. */
  bad_credentials: { status: 401, message: 'wrong username or password' },
  forbidden: { status: 403, message: 'your role may not do this' },
  /** Also what a thing outside the caller's scope answers: it does not exist for them. */
  not_found: { status: 404, message: 'no such thing' },
  conflict: { status: 409, message: 'it exists already' },
  /** A lifecycle action the incident's state does not allow. */
  /** A browser's push subscription past notify.channels[web_push].maxSubscriptionsPerUser: remove one first. */
  too_many_subscriptions: { status: 409, message: 'you have as many push subscriptions as allowed' },
  illegal_transition: { status: 409, message: 'the incident is not in a state for this action' },
  device_offline: { status: 409, message: 'the device is not connected' },
  /** An evidence file attached to its incident but removed since by media retention. */
  media_expired: { status: 410, message: 'the file was removed by media retention' },
  range_not_satisfiable: { status: 416, message: 'the range is outside the file' },
  // Field uploads (#24): photos and videos from the phone.
  /** An upload over field.maxPhotoBytes or field.maxVideoBytes, by its content-length or as it streams. */
  payload_too_large: { status: 413, message: 'the upload is larger than allowed' },
  /** An upload whose bytes are not one of the accepted types, or not the type it claims. */
  unsupported_media_type: { status: 415, message: 'the upload is not an accepted photo or video type' },
  /** A case that has collected field.maxUploadsPerIncident uploads already. */
  too_many_uploads: { status: 409, message: 'this case has as many uploads as allowed' },
  /** An Idempotency-Key the caller used within its window for another incident or action: never acted on twice. */
  idempotency_key_reused: {
    status: 422,
    message: 'this Idempotency-Key was used for another action: send a new key',
  },
  /** An address or identity locked out for guessing (limits.auth); REST adds retry-after. */
  too_many_attempts: { status: 429, message: 'too many failed authentications: try again later' },
  // Worker positions (#24): why a phone's position was not kept.
  /** The worker has not turned on sharing their position (PUT /api/me/position-sharing), or the deployment has not. */
  position_sharing_off: { status: 409, message: 'position sharing is off: turn it on first' },
  /** The worker is on no shift of their grids' rosters now: positions are kept only while on duty. */
  off_shift: {
    status: 409,
    message: 'you are not on duty now: positions are shared only during your shifts',
  },
  /** Sooner than positions.minIntervalSeconds after the last one; retry-after says when. */
  position_too_frequent: { status: 429, message: 'positions too frequent: wait before sending the next' },
  /** Less accurate than positions.maxAccuracyM. */
  position_inaccurate: { status: 422, message: 'the position is not accurate enough' },
  /** Outside the jurisdiction's grids by more than positions.boundsMarginM. */
  position_out_of_bounds: { status: 422, message: 'the position is outside the jurisdiction' },
  /** Taken in the future (beyond a small skew) or more than ten minutes ago. */
  position_time_out_of_range: { status: 422, message: 'the position is too old or in the future' },
  // Patrols and zero reports (#25 point 5): why a check-in or a zero report was refused.
  /** The worker is on no shift of the grid's roster now: patrols are checked in only while on duty. */
  patrol_off_duty: { status: 409, message: 'you are not on duty in this grid now' },
  /** The point or grid is not one of the caller's grids. */
  patrol_not_your_grid: { status: 403, message: 'this patrol point is not in one of your grids' },
  /** The phone's position is farther from the point than its radius plus the fix's accuracy, or too inaccurate. */
  patrol_too_far: { status: 422, message: 'your position is not at the patrol point' },
  /** The QR code is not the point's (or the point has no code posted). */
  patrol_bad_code: { status: 422, message: 'the code is not this patrol point’s' },
  /** The same worker at the same point within patrols.duplicateMinutes. */
  patrol_duplicate: { status: 409, message: 'you checked in at this point a moment ago' },
  /** The grid's zero report of the day is already in. */
  zero_report_done: { status: 409, message: 'the zero report of this grid is already in for today' },
  internal: { status: 500, message: 'internal error' },
  device_timeout: { status: 504, message: 'the device did not answer in time' },
} as const satisfies Record<string, { readonly status: number; readonly message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The codes a caller reads: every code but the operator's `GRIDHUB_*` ones. */
export type RequestErrorCode = Exclude<ErrorCode, `GRIDHUB_${string}`>;
export const requestErrorCodes = Object.keys(errorCatalogue).filter(
  (code) => !code.startsWith('GRIDHUB_'),
) as [RequestErrorCode, ...RequestErrorCode[]];

/**
 * The kinds of refusal the domain's services name (an incident action's, a lifecycle
 * `Refusal`), as codes: one table for REST and Socket.IO.
 */
export const refusalCodes = {
  not_found: 'not_found',
  illegal: 'illegal_transition',
  forbidden: 'forbidden',
  invalid: 'invalid_request',
  conflict: 'conflict',
} as const satisfies Record<string, RequestErrorCode>;

export type RefusalKind = keyof typeof refusalCodes;

/** A domain service's refusal (its kind and reason) as the catalogue's error. */
export function refused(kind: RefusalKind, message: string, problems: readonly string[] = []): GridhubError {
  return new GridhubError(refusalCodes[kind], message, { problems });
}

export class GridhubError extends Error {
  readonly code: ErrorCode;
  /** Individual problems, each as `path: message`, when there are several (config or input validation). */
  readonly problems: readonly string[];

  constructor(
    code: ErrorCode,
    message: string = errorCatalogue[code].message,
    options: { problems?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GridhubError';
    this.code = code;
    this.problems = options.problems ?? [];
  }

  /** The HTTP status of its code. */
  get status(): number {
    return errorCatalogue[this.code].status;
  }
}

export function isGridhubError(error: unknown): error is GridhubError {
  return error instanceof GridhubError;
}

/** What a caller is told of an error: `{code, message, problems?}`, and its HTTP status. */
export interface ErrorAnswer {
  readonly status: number;
  readonly error: { readonly code: RequestErrorCode; readonly message: string; readonly problems?: string[] };
}

/**
 * The answer to an error on any transport. A coded request error is told as it is; anything else (an operator's
 * `GRIDHUB_*` fault, a bug) answers 500 `internal` with no detail, which is for the log.
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (!(error instanceof GridhubError) || error.code.startsWith('GRIDHUB_')) {
    return { status: 500, error: { code: 'internal', message: errorCatalogue.internal.message } };
  }
  const problems = error.problems.length > 0 ? { problems: [...error.problems] } : {};
  return {
    status: error.status,
    error: { code: error.code as RequestErrorCode, message: error.message, ...problems },
  };
}

/**
 * Turns a server's listen failure into one clear line that names the setting to change, e.g.
 * `MQTT port 1883 is already in use: set MQTT_PORT to a free port (0 picks one)`.
 */
export function listenError(error: unknown, what: string, port: number, setting: string): GridhubError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new GridhubError(
      'GRIDHUB_PORT_IN_USE',
      `${what} port ${port} is already in use: set ${setting} to a free port (0 picks one)`,
      { cause: error },
    );
  }
  return new GridhubError(
    'GRIDHUB_LISTEN_FAILED',
    `${what} cannot listen on port ${port} (${code ?? (error as Error).message}): check ${setting}`,
    { cause: error },
  );
}
