import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reporterContactsCollection } from '../../src/cases/people-cases.ts';
import { toConfigSystem } from '../../src/cases/placement.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  getJson,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type Answer = Incident & { error?: { code: string; message: string; problems?: string[] } };

const worker = 'demo-worker-xijiao-01';
const otherWorker = 'demo-worker-xijiao-02';
const officer = 'demo-officer-xijiao';
const phone = '13912345678';

let hub: TestHub;
let officerSocket: RecordingClient;
/** A WGS84 point inside grid-xijiao-01 (the demo's boundaries may be GCJ-02). */
let inGrid1: [number, number];

beforeAll(async () => {
  hub = await startTestHub();
  officerSocket = await connectClient(hub.httpUrl, officer);
  const system = hub.hub.deployment.map.coordinates;
  const target: [number, number] = [116.304, 39.932];
  const shifted = toConfigSystem(target, system);
  inGrid1 = [2 * target[0] - shifted[0], 2 * target[1] - shifted[1]];
});

afterAll(async () => {
  officerSocket?.close();
  await hub?.stop();
});

function report(body: Record<string, unknown>, token = worker) {
  return postJson<Answer>(`${hub.httpUrl}/api/cases`, token, {
    category: 'city_environment',
    subcategory: 'exposed_garbage',
    description: '西郊路口有暴露垃圾，约两立方米',
    position: inGrid1,
    ...body,
  });
}

describe('field reports (随手拍) along the four paths of 方案4', () => {
  it('on_spot: handled and recorded by the reporter, resolved, awaiting verification', async () => {
    const answer = await report({ path: 'on_spot', note: '已通知保洁清运，现场已清理' });
    expect(answer.status).toBe(201);
    const incident = answer.body;
    expect(incident).toMatchObject({
      state: 'resolved',
      gridId: 'grid-xijiao-01',
      handler: 'worker-xijiao-01',
      resolvedBy: 'worker-xijiao-01',
      resolution: '已通知保洁清运，现场已清理',
      category: 'city_environment',
      subcategory: 'exposed_garbage',
      title: '暴露垃圾',
      origin: { kind: 'field_report', reportedBy: 'worker-xijiao-01', path: 'on_spot' },
      device: { id: 'case-source:field_report', name: '网格员上报', adapter: 'people' },
    });
    expect(incident.timeline.acceptedAt).toBeDefined();
    expect(incident.timeline.arrivedAt).toBeDefined();
    // The officer verifies it as any resolved case.
    const verified = await postJson<Answer>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/verify`,
      officer,
    );
    expect(verified.body.state).toBe('closed');
  });

  it('on_spot without a note is refused and counted', async () => {
    const before = await metricValue(hub.httpUrl, 'gridhub_people_cases_refused_total{reason="no_note"}');
    const answer = await report({ path: 'on_spot' });
    expect(answer.status).toBe(400);
    expect(await metricValue(hub.httpUrl, 'gridhub_people_cases_refused_total{reason="no_note"}')).toBe(
      before + 1,
    );
  });

  it('coordinate: new at the community acceptance centre, shown on its console', async () => {
    const answer = await report({ path: 'coordinate' });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      state: 'new',
      responsibleNodeId: 'community-xijiao',
      assignees: [],
      handler: null,
    });
    const pushed = await officerSocket.of('incident:new');
    expect(pushed.some((payload) => (payload as Incident).id === answer.body.id)).toBe(true);
  });

  it('urgent: on site with the reporter handling it, at least major, the centres alerted', async () => {
    const answer = await report({ path: 'urgent', category: 'sudden_event', subcategory: 'gas_leak' });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      state: 'on_site',
      handler: 'worker-xijiao-01',
      severity: 'major',
      responsibleNodeId: 'grid-xijiao-01',
    });
    // Created dispatched to the reporter and the community and street officers: the notifications' audience.
    const audit = await getJson(`${hub.httpUrl}/api/incidents/${answer.body.id}/audit`, officer);
    const created = (
      audit.body as { entries: { action: string; detail: { assignees?: string[] } }[] }
    ).entries.find((entry) => entry.action === 'incident.create');
    expect(created?.detail.assignees).toEqual(
      expect.arrayContaining(['worker-xijiao-01', 'officer-xijiao', 'officer-liushuwan']),
    );
    // The gas leak's own deadline (2 min to accept), not its category's (5).
    const acceptBy = Date.parse(answer.body.timeline.acceptBy ?? '');
    expect(acceptBy - Date.parse(answer.body.createdAt)).toBe(2 * 60_000);
  });

  it('approval: new at the community with its approval chain up to the district', async () => {
    const answer = await report({
      path: 'approval',
      category: 'city_environment',
      subcategory: 'illegal_structure',
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      state: 'new',
      responsibleNodeId: 'community-xijiao',
      approval: { chain: ['community-xijiao', 'street-liushuwan', 'district-qinghe'], at: 0, decisions: [] },
    });
  });

  it("corrects the grid among the worker's grids, and refuses a grid that is not theirs", async () => {
    const chief = await report({ path: 'coordinate', gridId: 'grid-xijiao-02' }, 'demo-chief-xijiao');
    expect(chief.status).toBe(201);
    expect(chief.body.gridId).toBe('grid-xijiao-02');
    const refused = await report({ path: 'coordinate', gridId: 'grid-xijiao-02' });
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toContain('not one of your grids');
    const unknown = await report({ path: 'coordinate', category: 'no_such_category' });
    expect(unknown.status).toBe(400);
  });

  it('refuses an officer filing a field report, and a description over 2000 characters', async () => {
    expect((await report({ path: 'coordinate' }, officer)).status).toBe(403);
    expect((await report({ path: 'coordinate', description: '长'.repeat(2001) })).status).toBe(400);
  });
});

describe('registration at the centre (登记) and the reporter’s privacy', () => {
  let registered: Incident;

  it("dispatches a phone call's case to the grid's worker on duty", async () => {
    const answer = await postJson<Answer>(`${hub.httpUrl}/api/cases/register`, officer, {
      source: 'phone',
      reporter: { name: '张三丰', phone },
      gridId: 'grid-xijiao-01',
      address: '西郊路8号',
      category: 'street_order',
      subcategory: 'illegal_parking',
      description: '小区门口机动车乱停放，堵住消防通道',
    });
    expect(answer.status).toBe(201);
    registered = answer.body;
    expect(registered).toMatchObject({
      state: 'dispatched',
      assignees: ['worker-xijiao-01'],
      origin: { kind: 'phone', reportedBy: 'officer-xijiao', reporter: { name: '张**', hasContact: true } },
      device: { id: 'case-source:phone', name: '电话登记', adapter: 'people', address: '西郊路8号' },
      place: { address: '西郊路8号' },
    });
  });

  it("keeps the number nowhere but the reporter's route, and audits every read", async () => {
    const serialised = JSON.stringify(registered);
    expect(serialised).not.toContain(phone);
    expect(serialised).not.toContain('张三丰');
    const listed = await getJson(`${hub.httpUrl}/api/incidents`, officer);
    expect(JSON.stringify(listed.body)).not.toContain(phone);
    const pushes = JSON.stringify(officerSocket.received);
    expect(pushes).not.toContain(phone);
    expect(hub.logs.text).not.toContain(phone);

    const byWorker = await getJson(`${hub.httpUrl}/api/incidents/${registered.id}/reporter`, worker);
    expect(byWorker).toEqual({ status: 200, body: { name: '张三丰', phone } });
    const byOfficer = await getJson(`${hub.httpUrl}/api/incidents/${registered.id}/reporter`, officer);
    expect(byOfficer.status).toBe(200);
    // Another grid's worker does not see the case at all; the street's officer is not its centre.
    const byOther = await getJson(`${hub.httpUrl}/api/incidents/${registered.id}/reporter`, otherWorker);
    expect(byOther.status).toBe(404);
    const byStreet = await getJson(
      `${hub.httpUrl}/api/incidents/${registered.id}/reporter`,
      'demo-officer-liushuwan',
    );
    expect(byStreet.status).toBe(403);

    const audit = await getJson(`${hub.httpUrl}/api/incidents/${registered.id}/audit`, officer);
    const reads = (
      audit.body as { entries: { action: string; outcome: string; actor: { userId: string } }[] }
    ).entries
      .filter((entry) => entry.action === 'reporter.viewed')
      .map((entry) => `${entry.actor.userId}:${entry.outcome}`);
    expect(reads.sort()).toEqual(
      ['officer-liushuwan:refused', 'officer-xijiao:ok', 'worker-xijiao-01:ok'].sort(),
    );
    expect(JSON.stringify(audit.body)).not.toContain(phone);
    const kept = await hub.testHandle.store.getRecord<{ phone: string }>(
      reporterContactsCollection,
      registered.id,
    );
    expect(kept?.phone).toBe(phone);
    // Personal data kept for a while (hub.reporterRetentionDays, 180 by default), then swept away.
    const [record] = await hub.testHandle.store.listRecords(reporterContactsCollection, registered.id);
    expect(record?.expiresAt).toBeGreaterThan(Date.now() + 179 * 86_400_000);
    expect(record?.expiresAt).toBeLessThan(Date.now() + 181 * 86_400_000);
  });

  it("refuses a registration outside the officer's centre as not found", async () => {
    const answer = await postJson<Answer>(`${hub.httpUrl}/api/cases/register`, officer, {
      source: 'walk_in',
      gridId: 'grid-zhenxing-01',
      category: 'street_order',
      description: '占道经营',
    });
    expect(answer.status).toBe(404);
  });

  it('serves the catalogue with its procedures', async () => {
    const answer = await getJson(`${hub.httpUrl}/api/catalogue`, worker);
    expect(answer.status).toBe(200);
    const categories = (answer.body as { categories: { id: string; procedure?: { steps: string[] } }[] })
      .categories;
    expect(
      categories.find((category) => category.id === 'sudden_event')?.procedure?.steps.length,
    ).toBeGreaterThan(0);
    expect(categories.some((category) => category.id === 'intrusion')).toBe(true);
  });
});
