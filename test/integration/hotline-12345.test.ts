import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotlineSignature } from '../../src/cases/hotline-orders.ts';
import type { Incident } from '../../src/core/incident.ts';
import { getJson, metricValue, postJson, startTestHub, type TestHub } from '../helpers/hub.ts';

/** The demo platform (config/demo.yaml hotline.platforms). */
const appKey = 'demo-12345';
const secret = 'demo-12345-platform-secret-not-for-production';
const prefix = '/api/hotline/v1';
const officer = 'demo-officer-xijiao';
const worker = 'demo-worker-xijiao-01';
/** An officer of another community, who may not see xijiao's cases. */
const stranger = 'demo-officer-zhenxing';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub();
});

afterAll(async () => {
  await hub?.stop();
});

interface Signing {
  key?: string;
  secret?: string;
  timestamp?: string;
  nonce?: string;
  /** Signs this body rather than the one sent. */
  signedBody?: string;
}

/** A request as the 12345 platform sends it, signed as docs/cases-from-people.md says. */
async function platform(method: 'GET' | 'POST', path: string, body?: unknown, signing: Signing = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const timestamp = signing.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = signing.nonce ?? randomUUID().replaceAll('-', '');
  const signature = hotlineSignature(
    signing.secret ?? secret,
    method,
    `${prefix}${path}`,
    timestamp,
    nonce,
    signing.signedBody ?? text,
  );
  const response = await fetch(`${hub.httpUrl}${prefix}${path}`, {
    method,
    headers: {
      'x-app-key': signing.key ?? appKey,
      'x-timestamp': timestamp,
      'x-nonce': nonce,
      'x-signature': signature,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: text }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const refusals = (reason: string) =>
  metricValue(hub.httpUrl, `gridhub_hotline_refusals_total{reason="${reason}"}`);

describe('a 12345 work order from intake to 回访', () => {
  const no = `GD${Date.now()}`;
  let incidentId: string;

  it('registers the order as a case dispatched to the grid worker, the reporter minimised', async () => {
    const created = await platform('POST', '/work-orders', {
      no,
      title: '西郊路积水',
      content: '西郊路与清河路交叉口积水严重，行人无法通过',
      categoryCode: 'HL-0406',
      address: '西郊路与清河路交叉口',
      reporter: { name: '王小明', phone: '13800001111' },
      deadline: '2026-12-09T12:00:00+08:00',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ no, state: 'received', deadline: '2026-12-09T12:00:00+08:00' });
    const listed = (await getJson(`${hub.httpUrl}/api/incidents`, officer)).body as { incidents: Incident[] };
    const incident = listed.incidents.find((candidate) => candidate.origin?.externalId === no);
    expect(incident).toMatchObject({
      state: 'dispatched',
      gridId: 'grid-xijiao-01',
      assignees: ['worker-xijiao-01'],
      category: 'sudden_event',
      subcategory: 'road_waterlogging',
      title: '西郊路积水',
      origin: { kind: 'hotline_12345', reporter: { name: '王**', hasContact: true } },
      device: { id: 'case-source:hotline_12345', name: '12345热线' },
    });
    expect(JSON.stringify(listed)).not.toContain('13800001111');
    incidentId = (incident as Incident).id;
    // The same number again (a retry) answers the order as it stands, with no second case.
    const again = await platform('POST', '/work-orders', {
      no,
      title: '西郊路积水',
      content: '重复',
      categoryCode: 'HL-0406',
    });
    expect(again.status).toBe(201);
    const after = (await getJson(`${hub.httpUrl}/api/incidents`, officer)).body as { incidents: Incident[] };
    expect(after.incidents.filter((candidate) => candidate.origin?.externalId === no)).toHaveLength(1);
  });

  it('is signed for (签收) by the centre, once, and the platform reads it', async () => {
    const signed = await postJson<Record<string, unknown>>(
      `${hub.httpUrl}${prefix}/work-orders/${no}/sign`,
      officer,
    );
    expect(signed.status).toBe(200);
    expect(signed.body.state).toBe('signed');
    const twice = await postJson(`${hub.httpUrl}${prefix}/work-orders/${no}/sign`, officer);
    expect(twice.status).toBe(409);
    const byWorker = await postJson(`${hub.httpUrl}${prefix}/work-orders/${no}/sign`, worker);
    expect(byWorker.status).toBe(403);
    const read = await platform('GET', `/work-orders/${no}`);
    expect(read.body).toMatchObject({ state: 'signed' });
    expect(typeof read.body.signedAt).toBe('string');
    // Recorded on the case too, so every console's list shows it signed.
    const incident = (await getJson(`${hub.httpUrl}/api/incidents/${incidentId}`, officer)).body as Incident;
    expect(incident.origin).toMatchObject({
      signedAt: read.body.signedAt,
      deadline: '2026-12-09T12:00:00+08:00',
    });
    // Once signed, it can no longer be returned.
    const late = await postJson(`${hub.httpUrl}${prefix}/work-orders/${no}/return`, officer, {
      reason: '晚了',
    });
    expect(late.status).toBe(409);
  });

  it("shows the case's order to its duty officers only, by name, with what they may do, no contact", async () => {
    const shown = await getJson(`${hub.httpUrl}/api/incidents/${incidentId}/work-order`, officer);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      no,
      platform: '12345市民服务热线（演示）',
      state: 'signed',
      deadline: '2026-12-09T12:00:00+08:00',
      signed: { by: '刘洋 Liu Yang' },
      actions: [],
    });
    expect(JSON.stringify(shown.body)).not.toContain('13800001111');
    expect(JSON.stringify(shown.body)).not.toContain('王小明');
    const path = `${hub.httpUrl}/api/incidents/${incidentId}/work-order`;
    expect((await getJson(path, stranger)).status).toBe(404);
    expect((await getJson(path, worker)).status).toBe(403);
    // A case that is not a 12345 order's has none.
    const other = await postJson<Incident>(`${hub.httpUrl}/api/cases/register`, officer, {
      source: 'phone',
      gridId: 'grid-xijiao-01',
      category: 'street_order',
      description: '来电反映占道经营',
    });
    expect((await getJson(`${hub.httpUrl}/api/incidents/${other.body.id}/work-order`, officer)).status).toBe(
      404,
    );
  });

  it('refuses a 回访 before there is a result', async () => {
    expect((await platform('POST', `/work-orders/${no}/visit`, { satisfied: true })).status).toBe(409);
  });

  it('shows the result once the worker has handled it, and takes the 回访', async () => {
    for (const action of ['accept', 'arrive'] as const) {
      const answer = await postJson(`${hub.httpUrl}/api/incidents/${incidentId}/actions/${action}`, worker);
      expect(answer.status).toBe(200);
    }
    expect((await platform('GET', `/work-orders/${no}`)).body.state).toBe('handling');
    const resolved = await postJson(`${hub.httpUrl}/api/incidents/${incidentId}/actions/resolve`, worker, {
      note: '已联系排水公司疏通雨水口，积水已退',
    });
    expect(resolved.status).toBe(200);
    const read = await platform('GET', `/work-orders/${no}`);
    expect(read.body).toMatchObject({
      state: 'resolved',
      result: { resolution: '已联系排水公司疏通雨水口，积水已退', department: '应急管理局' },
    });
    // Not satisfied while awaiting verification: back to the handler for rework.
    const unhappy = await platform('POST', `/work-orders/${no}/visit`, {
      satisfied: false,
      note: '仍有积水',
    });
    expect(unhappy.status).toBe(200);
    expect(unhappy.body).toMatchObject({ state: 'handling', visit: { satisfied: false, reopened: true } });
    const reworked = (await getJson(`${hub.httpUrl}/api/incidents/${incidentId}`, officer)).body as Incident;
    expect(reworked).toMatchObject({
      state: 'accepted',
      reworks: 1,
      returned: { note: '12345回访不满意：仍有积水' },
    });
    await postJson(`${hub.httpUrl}/api/incidents/${incidentId}/actions/resolve`, worker, {
      note: '再次疏通，已无积水',
    });
    const verified = await postJson(`${hub.httpUrl}/api/incidents/${incidentId}/actions/verify`, officer);
    expect(verified.status).toBe(200);
    const happy = await platform('POST', `/work-orders/${no}/visit`, { satisfied: true });
    expect(happy.body).toMatchObject({
      state: 'closed',
      result: { resolution: '再次疏通，已无积水' },
      visit: { satisfied: true, reopened: false },
    });
    const shown = await getJson(`${hub.httpUrl}/api/incidents/${incidentId}/work-order`, officer);
    expect(shown.body).toMatchObject({ state: 'closed', visit: { satisfied: true }, actions: [] });
    // Each of the order's events is on the case's audit trail.
    const audit = (await getJson(`${hub.httpUrl}/api/incidents/${incidentId}/audit`, officer)).body as {
      entries: { action: string }[];
    };
    const actions = audit.entries.map((entry) => entry.action);
    expect(actions.filter((action) => action === 'hotline.visit')).toHaveLength(2);
    expect(actions).toContain('hotline.sign');
  });

  it('returns (退单) another order with a reason the platform reads, its case cancelled', async () => {
    const other = `GD${Date.now()}R`;
    await platform('POST', '/work-orders', {
      no: other,
      title: '非本辖区',
      content: '反映的地址不在本社区',
      categoryCode: 'UNKNOWN-1',
    });
    const returned = await postJson<Record<string, unknown>>(
      `${hub.httpUrl}${prefix}/work-orders/${other}/return`,
      officer,
      { reason: '地址不在本辖区，请转派' },
    );
    expect(returned.status).toBe(200);
    const read = await platform('GET', `/work-orders/${other}`);
    expect(read.body).toMatchObject({ state: 'returned', returnReason: '地址不在本辖区，请转派' });
    const incident = (
      (await getJson(`${hub.httpUrl}/api/incidents`, officer)).body as { incidents: Incident[] }
    ).incidents.find((candidate) => candidate.origin?.externalId === other) as Incident;
    const shown = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}/work-order`, officer);
    expect(shown.body).toMatchObject({
      state: 'returned',
      returned: { by: '刘洋 Liu Yang', reason: '地址不在本辖区，请转派' },
      actions: [],
    });
    // Neither signed for nor returned twice.
    expect((await postJson(`${hub.httpUrl}${prefix}/work-orders/${other}/sign`, officer)).status).toBe(409);
  });

  it('lets only one of a 签收 and a 退单 sent at the same moment through', async () => {
    const raced = `GD${Date.now()}S`;
    await platform('POST', '/work-orders', {
      no: raced,
      title: '同时签收与退单',
      content: '两位值班员同时处理',
      categoryCode: 'HL-0505',
    });
    const [signed, returned] = await Promise.all([
      postJson(`${hub.httpUrl}${prefix}/work-orders/${raced}/sign`, officer),
      postJson(`${hub.httpUrl}${prefix}/work-orders/${raced}/return`, officer, { reason: '非本辖区' }),
    ]);
    expect([signed.status, returned.status].sort()).toEqual([200, 409]);
    const read = await platform('GET', `/work-orders/${raced}`);
    // The order is what the one that went through made it, and only that.
    if (signed.status === 200) {
      expect(read.body.state).not.toBe('returned');
      expect(read.body.signedAt).toEqual(expect.any(String));
    } else {
      expect(read.body).toMatchObject({ state: 'returned', returnReason: '非本辖区' });
      expect(read.body.signedAt).toBeUndefined();
    }
  });
});

describe('signed requests', () => {
  it('refuses bad signatures, old timestamps, replayed nonces and unknown app keys with 401, counted', async () => {
    const path = '/work-orders/NOPE-1';
    const cases: [string, Signing][] = [
      ['bad_signature', { secret: 'not-the-secret-of-this-platform' }],
      ['stale_timestamp', { timestamp: String(Math.floor(Date.now() / 1000) - 301) }],
      ['unknown_app_key', { key: 'someone-else' }],
    ];
    for (const [reason, signing] of cases) {
      const before = await refusals(reason);
      const answer = await platform('GET', path, undefined, signing);
      expect(answer.status, reason).toBe(401);
      expect(await refusals(reason), reason).toBe(before + 1);
    }
    // A body other than the one signed.
    const tampered = await refusals('bad_signature');
    const answer = await platform(
      'POST',
      '/work-orders',
      { no: 'T1', title: 't', content: 'c', categoryCode: 'x' },
      { signedBody: '{}' },
    );
    expect(answer.status).toBe(401);
    expect(await refusals('bad_signature')).toBe(tampered + 1);
    // A nonce used once is refused the second time, though well signed.
    const nonce = 'replayed-nonce-0001';
    expect((await platform('GET', path, undefined, { nonce })).status).toBe(404);
    const replays = await refusals('replayed_nonce');
    expect((await platform('GET', path, undefined, { nonce })).status).toBe(401);
    expect(await refusals('replayed_nonce')).toBe(replays + 1);
    // No signature headers at all.
    const bare = await fetch(`${hub.httpUrl}${prefix}${path}`);
    expect(bare.status).toBe(401);
  });
});
