import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionAcknowledgement } from '../../src/core/events.ts';
import {
  connectClient,
  getJson,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

interface JsonSchema {
  readonly type?: string;
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: readonly string[];
}
interface Operation {
  readonly security?: readonly unknown[];
  readonly parameters?: readonly unknown[];
  readonly requestBody?: unknown;
  readonly responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}
type Spec = { paths: Record<string, Record<string, Operation>> };

/** Every operation of the API, as its URLs were before the routes became plugins: none may move. */
const operations = [
  'GET /healthz',
  'GET /livez',
  'GET /readyz',
  'GET /metrics',
  'GET /api/me',
  'POST /api/auth/login',
  'POST /api/auth/password',
  'POST /api/auth/token',
  'POST /api/auth/logout',
  'POST /api/auth/devices',
  'POST /api/auth/device-login',
  'GET /api/me/devices',
  'DELETE /api/me/devices/{id}',
  'DELETE /api/users/{id}/devices',
  'GET /api/dead-letters',
  'GET /api/audit',
  'GET /api/accounts',
  'POST /api/accounts',
  'GET /api/accounts/{id}',
  'DELETE /api/accounts/{id}',
  'POST /api/accounts/{id}/disable',
  'POST /api/accounts/{id}/enable',
  'POST /api/accounts/{id}/password',
  'GET /api/incidents',
  'GET /api/incidents/{id}',
  'GET /api/incidents/{id}/audit',
  'GET /api/incidents/{id}/actions',
  'POST /api/incidents/{id}/actions/{action}',
  'POST /api/incidents/{id}/uploads',
  'GET /api/jurisdiction',
  'GET /api/me/position-sharing',
  'PUT /api/me/position-sharing',
  'POST /api/me/position',
  'GET /api/positions',
  // Patrols, zero reports and work logs (#25 point 5).
  'GET /api/patrols/points',
  'POST /api/patrols/checkins',
  'GET /api/patrols/points/{id}/qr',
  'GET /api/patrols/days/{gridId}/{date}',
  'GET /api/patrols/board/{date}',
  'POST /api/patrols/zero-report',
  'GET /api/worklogs/{userId}/{date}',
  'GET /api/positions/{userId}/track',
  'GET /api/grids',
  'GET /api/users',
  'GET /api/departments',
  'GET /api/rosters/{grid}',
  'PUT /api/rosters/{grid}',
  'GET /api/devices',
  'POST /api/devices',
  'GET /api/devices/{id}',
  'GET /api/devices/{id}/events',
  'POST /api/devices/{id}/rotate',
  'POST /api/devices/{id}/disable',
  'POST /api/devices/{id}/enable',
  'POST /api/devices/{id}/maintenance',
  'DELETE /api/devices/{id}/maintenance',
  'POST /api/devices/{id}/commands/{command}',
  'GET /api/assessment',
  'GET /api/assessment/scores',
  'GET /api/console',
  'GET /api/cameras',
  'POST /api/cameras/discover',
  'POST /api/cameras/{id}/live',
  'POST /api/cameras/{id}/presets/{preset}',
  'GET /api/live/{ticket}',
  'GET /media/{incidentId}/{file}',
  'GET /api/push/key',
  'GET /api/push/subscriptions',
  'POST /api/push/subscriptions',
  'DELETE /api/push/subscriptions',
  'GET /api/notifications/status',
  // Cases from people (#25).
  'GET /api/catalogue',
  'POST /api/cases',
  'POST /api/cases/register',
  'GET /api/incidents/{id}/reporter',
  'GET /api/incidents/{id}/work-order',
  'POST /api/hotline/v1/work-orders',
  'GET /api/hotline/v1/work-orders/{no}',
  'POST /api/hotline/v1/work-orders/{no}/visit',
  'POST /api/hotline/v1/work-orders/{no}/sign',
  'POST /api/hotline/v1/work-orders/{no}/return',
  'GET /api/public-notices',
];

/** The error shape every refusal has: `{error: {code, message, problems?}}`. */
function isErrorShape(schema: JsonSchema | undefined): boolean {
  const error = schema?.properties?.error;
  return (
    schema?.required?.includes('error') === true &&
    error?.properties?.code !== undefined &&
    error.properties.message !== undefined &&
    error.required?.includes('code') === true &&
    error.required.includes('message')
  );
}

describe('the API description says what every answer looks like', () => {
  let hub: TestHub;
  let spec: Spec;

  beforeAll(async () => {
    hub = await startTestHub();
    spec = (await getJson(`${hub.httpUrl}/docs/json`)).body as Spec;
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('describes every route, at the URL it always had', () => {
    const described = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(described.sort()).toEqual([...operations].sort());
  });

  it('gives every operation a 2xx answer with its schema, and its refusals in the error shape', () => {
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const at = `${method.toUpperCase()} ${path}`;
        const responses = Object.entries(operation.responses ?? {});
        const ok = responses.filter(([status]) => /^2\d\d$/.test(status));
        expect(ok.length, `${at}: a 2xx answer`).toBeGreaterThan(0);
        for (const [status, response] of ok) {
          expect(response.content?.['application/json']?.schema, `${at} ${status}: a schema`).toBeDefined();
        }
        const refusals = responses.filter(([status]) => /^4\d\d$/.test(status));
        for (const [status, response] of refusals) {
          expect(
            isErrorShape(response.content?.['application/json']?.schema),
            `${at} ${status}: error shape`,
          ).toBe(true);
        }
        const statuses = responses.map(([status]) => status);
        // Behind a bearer token: 401 without one, 429 for an address locked out for guessing.
        if (operation.security === undefined || operation.security.length > 0) {
          if (!['/healthz', '/livez', '/readyz'].includes(path))
            expect(statuses, `${at}: 401`).toContain('401');
        }
        if (operation.parameters !== undefined || operation.requestBody !== undefined) {
          expect(statuses, `${at}: 400 for bad input`).toContain('400');
        }
      }
    }
  });

  it('documents the codes a route adds: a lifecycle action may be illegal, a command may time out', () => {
    const action = spec.paths['/api/incidents/{id}/actions/{action}']?.post?.responses ?? {};
    expect(Object.keys(action)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '404', '409', '429']),
    );
    const command = spec.paths['/api/devices/{id}/commands/{command}']?.post?.responses ?? {};
    expect(Object.keys(command)).toEqual(expect.arrayContaining(['200', '404', '409', '504']));
    // Only admins: a 403 for the others.
    expect(Object.keys(spec.paths['/api/accounts']?.get?.responses ?? {})).toContain('403');
  });
});

describe('a lifecycle action takes the same input on REST and Socket.IO', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const token = 'demo-officer-xijiao';

  beforeAll(async () => {
    hub = await startTestHub();
    officer = await connectClient(hub.httpUrl, token);
  });

  afterAll(async () => {
    officer?.socket.close();
    await hub?.stop();
  });

  /** The code each transport answers for one action with one input: null when it was taken. */
  async function codes(
    action: string,
    input: Record<string, unknown>,
  ): Promise<[string | null, string | null]> {
    const incidentId = 'inc_0000000000000000';
    const rest = await postJson<{ error?: { code: string } }>(
      `${hub.httpUrl}/api/incidents/${incidentId}/actions/${action}`,
      token,
      input,
    );
    const ack = (await officer.socket.emitWithAck('incident:act', {
      incidentId,
      action,
      ...input,
    } as never)) as ActionAcknowledgement;
    return [rest.body.error?.code ?? null, ack.ok ? null : ack.error.code];
  }

  it.each([
    ['an empty note', 'note', { note: '' }, 'invalid_request'],
    // Socket.IO once took it, and resolved with an empty resolution.
    ['an empty note to resolve', 'resolve', { note: '' }, 'invalid_request'],
    ['a note too long', 'note', { note: 'x'.repeat(2001) }, 'invalid_request'],
    ['dispatching to nobody', 'dispatch', { assignees: [] }, 'invalid_request'],
    ['an empty assignee', 'dispatch', { assignees: [''] }, 'invalid_request'],
    ['an unknown field', 'resolve', { resolution: 'done' }, 'invalid_request'],
    ['a note of the wrong type', 'reject', { note: 7 }, 'invalid_request'],
    ['a position off the globe', 'arrive', { position: { lon: 200, lat: 0 } }, 'invalid_request'],
    ['a position without its latitude', 'arrive', { position: { lon: 116.3 } }, 'invalid_request'],
    [
      'an accuracy out of bounds',
      'arrive',
      { position: { lon: 116.3, lat: 39.9, accuracyM: 20_000 } },
      'invalid_request',
    ],
    // Well formed: on to the incident, which does not exist for either.
    ['a note', 'note', { note: 'called the resident' }, 'not_found'],
    ['assignees', 'dispatch', { assignees: ['worker-xijiao-01'] }, 'not_found'],
    ['nothing', 'accept', {}, 'not_found'],
    ['a position', 'arrive', { position: { lon: 116.3, lat: 39.9, accuracyM: 15 } }, 'not_found'],
  ])('answers %s alike', async (_what, action, input, expected) => {
    expect(await codes(action, input)).toEqual([expected, expected]);
  });
});
