import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { Incident } from '../../src/core/incident.ts';
import { demoGate, findIncident, getJson, postJson, startQuietDemoHub } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * #25's lifecycle on the pages, in Chromium: the worker's card shows a supervision (督办) badge with its instruction,
 * asks for an extension (申请延期) and returns a case (退回); the officer console suspends a case (挂账) with a
 * review date and shows it, and hands a case to a department (协同), whose user works on it on the phone page.
 */
const officerToken = 'demo-officer-xijiao';

describe('the case lifecycle on the pages (#25)', () => {
  const suite = chromiumHub(startQuietDemoHub);
  let sim: GateSimulator;

  /** The case of a forced door on the north gate, new since the call. */
  async function newIncident(): Promise<Incident> {
    const { body: before } = await getJson(`${suite.hub.httpUrl}/api/incidents?limit=50`, officerToken);
    const known = new Set((before as { incidents: Incident[] }).incidents.map((incident) => incident.id));
    await sim.forceDoor();
    return findIncident(suite.hub.httpUrl, (incident) => !known.has(incident.id));
  }

  const current = async (id: string) =>
    (await getJson(`${suite.hub.httpUrl}/api/incidents/${id}`, officerToken)).body as Incident;

  beforeAll(async () => {
    sim = demoGate(suite.hub.mqttUrl, 'gate-xijiao-01-north');
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
  });

  it('shows a supervision on the worker’s card, asks for an extension and returns the case', async () => {
    const incident = await newIncident();
    expect(incident.assignees).toEqual(['worker-xijiao-01']);
    await postJson(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/accept`,
      'demo-worker-xijiao-01',
    );
    const supervised = await postJson<Incident>(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/supervise`,
      'demo-officer-liushuwan',
      { note: '今日内办结' },
    );
    expect(supervised.status).toBe(200);
    const worker = await suite.pages.open('worker', 'worker-xijiao-01');
    const card = worker.locator(`#tasks li[data-id="${incident.id}"]`);
    await expect.poll(() => card.locator('.supervised').textContent(), wait).toContain('今日内办结');
    expect(await card.locator('.supervised-badge').textContent()).toBe('督办');
    // 申请延期 needs the reason in the note first.
    await card.locator('button[data-action="request_extension"]').click();
    await expect.poll(() => card.locator('[role="alert"]').textContent(), wait).toContain('需要填写原因');
    await card.locator('textarea').fill('等待配件');
    await card.locator('select.extend-by').selectOption('24');
    await card.locator('button[data-action="request_extension"]').click();
    await expect.poll(async () => (await current(incident.id)).extensions?.length ?? 0, wait).toBe(1);
    const asked = (await current(incident.id)).extensions?.[0];
    expect(asked).toMatchObject({ requestedBy: 'worker-xijiao-01', reason: '等待配件' });
    expect(Date.parse(asked?.until as string) - Date.parse(incident.dueAt ?? '')).toBeGreaterThan(
      23 * 3_600_000,
    );
    await expect.poll(() => card.locator('.extension-pending').count(), wait).toBe(1);
    expect(await card.locator('button[data-action="request_extension"]').isDisabled()).toBe(true);
    // 退回 with the reason: back to the centre, off the worker's hands.
    await card.locator('textarea').fill('不属本人职责');
    await card.locator('button[data-action="return"]').click();
    await expect.poll(async () => (await current(incident.id)).state, wait).toBe('new');
    expect((await current(incident.id)).returns).toEqual([
      { userId: 'worker-xijiao-01', at: expect.any(String), reason: '不属本人职责' },
    ]);
  });

  it('suspends a case from the console with a review date, shown on the panel', async () => {
    const incident = await newIncident();
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    const suspend = officer.locator('#incident button[data-action="suspend"]');
    await expect.poll(() => suspend.count(), wait).toBe(1);
    expect(await suspend.textContent()).toBe('挂账');
    await officer.locator('#review-at').fill('2099-01-01');
    // Out of bounds (lifecycle.maxSuspensionDays): refused with the reason, shown.
    await officer.locator('#note').fill('待业主回国');
    await suspend.click();
    // (In Chinese the console words the refusal by its code: 请求无效.)
    await expect.poll(() => officer.locator('#action-error').textContent(), wait).toContain('请求无效');
    expect((await current(incident.id)).state).toBe('dispatched');
    const inWeek = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(
      Date.now() + 7 * 86_400_000,
    );
    await officer.locator('#review-at').fill(inWeek);
    await officer.locator('#note').fill('待业主回国');
    await officer.locator('#incident button[data-action="suspend"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('suspended');
    expect(await officer.locator('#incident-state').textContent()).toBe('已挂账');
    expect(await officer.locator('#case-suspension').textContent()).toContain('待业主回国');
    expect(await officer.locator('#incident button[data-action="resume"]').count()).toBe(1);
    const suspended = await current(incident.id);
    expect(suspended.suspension?.reviewAt).toBe(new Date(`${inWeek}T00:00:00+08:00`).toISOString());
  });

  it('shows an approved case in 公示 on the panel, and takes an objection with its reason', async () => {
    const device = await newIncident();
    const { store } = suite.hub.testHandle;
    const at = new Date().toISOString();
    // A case on its approval chain, at its last step (as a field report's would be): a copy, not the live one.
    const incident: Incident = {
      ...(await current(device.id)),
      id: `${device.id}-approval`,
      state: 'new',
      assignees: [],
      approval: {
        chain: ['community-xijiao', 'street-liushuwan', 'district-qinghe'],
        at: 2,
        decisions: [
          { nodeId: 'community-xijiao', userId: 'officer-xijiao', at, approved: true },
          { nodeId: 'street-liushuwan', userId: 'officer-liushuwan', at, approved: true },
        ],
      },
    };
    await store.saveIncident(incident);
    const approved = await postJson<Incident>(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/approve`,
      'demo-officer-qinghe',
      { note: '批准' },
    );
    expect(approved.status).toBe(200);
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    const until = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(
      Date.parse(approved.body.approval?.notice?.until as string),
    );
    await expect.poll(() => officer.locator('#case-notice').textContent(), wait).toContain('公示中');
    expect(await officer.locator('#case-notice').textContent()).toContain(until);
    expect(await officer.locator('#incident button[data-action="dispatch"]').count()).toBe(0);
    const object = officer.locator('#incident button[data-action="object_notice"]');
    expect(await object.textContent()).toBe('公示异议');
    await officer.locator('#note').fill('邻居反映占用消防通道');
    await object.click();
    await expect.poll(() => officer.locator('#case-notice').textContent(), wait).toContain('提出异议');
    expect(await officer.locator('#case-notice').textContent()).toContain('邻居反映占用消防通道');
    expect((await current(incident.id)).approval?.notice?.objection?.reason).toBe('邻居反映占用消防通道');
  });

  it("hands a case to a department's user from the console's picker; they see it on the phone page and report back", async () => {
    const incident = await newIncident();
    await postJson(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/accept`,
      'demo-worker-xijiao-01',
    );
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    const picker = officer.locator('#coordinator');
    // By department (GET /api/departments), the users serving the case's place: no integrator among them.
    await expect
      .poll(
        () =>
          picker
            .locator('optgroup')
            .evaluateAll((groups) => groups.map((group) => group.getAttribute('label'))),
        wait,
      )
      .toEqual(['城管', '市场监管', '派出所']);
    expect(await picker.locator('option').allTextContents()).not.toContain(
      '门禁平台对接 Gate access integration',
    );
    await picker.selectOption('dept-chengguan-01');
    await officer.locator('#note').fill('占道经营，请城管协同');
    await officer.locator('#incident button[data-action="hand_off"]').click();
    await expect
      .poll(async () => (await current(incident.id)).coordinators?.map((entry) => entry.userId), wait)
      .toEqual(['dept-chengguan-01']);

    const department = await suite.pages.open('worker', 'dept-chengguan-01');
    const card = department.locator(`#tasks li[data-id="${incident.id}"]`);
    await expect
      .poll(() => card.locator('.handed-off').textContent(), wait)
      .toContain('占道经营，请城管协同');
    expect(await department.locator('#tasks > li').count()).toBe(1);
    expect(
      await card
        .locator('.actions button')
        .evaluateAll((buttons) => buttons.map((button) => button.dataset.action)),
    ).toEqual(['coordinate_done', 'note']);
    // Nothing of a grid worker's: no patrol, position sharing, score or upload.
    expect(await department.locator('#patrol-note, #position-sharing, .upload').count()).toBe(0);
    await card.locator('textarea').fill('摊位已清理');
    await card.locator('button[data-action="coordinate_done"]').click();
    await expect
      .poll(async () => (await current(incident.id)).coordinators?.[0]?.doneNote, wait)
      .toBe('摊位已清理');
    await expect.poll(() => card.count(), wait).toBe(0);
  });
});
