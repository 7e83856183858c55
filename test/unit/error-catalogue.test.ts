import { describe, expect, it } from 'vitest';
import {
  errorAnswer,
  errorCatalogue,
  GridhubError,
  refusalCodes,
  refused,
  requestErrorCodes,
} from '../../src/core/errors.ts';
import { actionInput, actionRequest } from '../../src/http/incident-action.ts';

describe('the one catalogue of coded errors', () => {
  it('keeps every code clients read, each with the status it always had', () => {
    const statuses = Object.fromEntries(requestErrorCodes.map((code) => [code, errorCatalogue[code].status]));
    expect(statuses).toEqual({
      invalid_request: 400,
      bad_request: 400,
      no_session: 400,
      unauthorized: 401,
      bad_credentials: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      too_many_subscriptions: 409,
      illegal_transition: 409,
      device_offline: 409,
      media_expired: 410,
      range_not_satisfiable: 416,
      payload_too_large: 413,
      unsupported_media_type: 415,
      too_many_uploads: 409,
      idempotency_key_reused: 422,
      too_many_attempts: 429,
      position_sharing_off: 409,
      off_shift: 409,
      position_too_frequent: 429,
      position_inaccurate: 422,
      position_out_of_bounds: 422,
      position_time_out_of_range: 422,
      patrol_off_duty: 409,
      patrol_not_your_grid: 403,
      patrol_too_far: 422,
      patrol_bad_code: 422,
      patrol_duplicate: 409,
      zero_report_done: 409,
      internal: 500,
      device_timeout: 504,
    });
  });

  it('answers a refusal with its code, message and problems, on any transport', () => {
    const error = new GridhubError('invalid_request', 'invalid body', { problems: ['body.note: Too small'] });
    expect(errorAnswer(error)).toEqual({
      status: 400,
      error: { code: 'invalid_request', message: 'invalid body', problems: ['body.note: Too small'] },
    });
    expect(errorAnswer(new GridhubError('device_offline'))).toEqual({
      status: 409,
      error: { code: 'device_offline', message: 'the device is not connected' },
    });
  });

  it("tells a caller nothing of the hub's own faults", () => {
    const internal = { status: 500, error: { code: 'internal', message: 'internal error' } };
    expect(errorAnswer(new GridhubError('GRIDHUB_STORE_FAILED', 'cannot open /var/lib/gridhub'))).toEqual(
      internal,
    );
    expect(errorAnswer(new TypeError('x is undefined'))).toEqual(internal);
  });

  it("translates a domain service's refusal by its kind, an incident's included", () => {
    expect(refused('illegal', 'cannot verify an incident that is new').code).toBe('illegal_transition');
    for (const [kind, code] of Object.entries(refusalCodes)) {
      expect(errorAnswer(refused(kind as keyof typeof refusalCodes, 'no')).error.code).toBe(code);
    }
    expect(errorAnswer(new Error('plain')).error.code).toBe('internal');
  });
});

describe('the one schema of a lifecycle action', () => {
  it('refuses an empty note and a dispatch to nobody, on REST and Socket.IO alike', () => {
    for (const input of [{ note: '' }, { assignees: [] }, { assignees: [''] }, { resolution: 'x' }]) {
      expect(actionInput.safeParse(input).success).toBe(false);
      expect(actionRequest.safeParse({ incidentId: 'inc_1', action: 'resolve', ...input }).success).toBe(
        false,
      );
    }
    expect(actionRequest.safeParse({ incidentId: 'inc_1', action: 'note', note: 'called' }).success).toBe(
      true,
    );
    // `clear` is the hub's own: no user takes it.
    expect(actionRequest.safeParse({ incidentId: 'inc_1', action: 'clear' }).success).toBe(false);
  });
});
