import { describe, expect, it } from 'vitest';
import { findIncident, startQuietDemoHub } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/** Cases from people on the pages (#25): 随手拍 on the worker's phone, 登记 on the officer's console. */
/** The worker's phone, in grid-xijiao-01. */
const position = { longitude: 116.3035, latitude: 39.9315, accuracy: 15 };

describe("people's cases in Chromium", () => {
  const suite = chromiumHub(startQuietDemoHub);

  /** The worker's phone with its position granted and set; the officer's console. */
  const openPage = (kind: 'officer' | 'worker', userId: string) =>
    suite.pages.open(kind, userId, kind === 'worker' ? { geolocation: position } : {});

  const caseDescribed = (description: string) =>
    findIncident(suite.hub.httpUrl, (incident) => incident.description === description);

  it('a 随手拍 from the worker page appears on the officer console', async () => {
    const officer = await openPage('officer', 'officer-xijiao');
    const worker = await openPage('worker', 'worker-xijiao-01');
    // 随手拍 is a tab of the phone's bottom bar; showing it opens the form.
    await worker.getByRole('tab', { name: '随手拍' }).click();
    const form = worker.locator('#report-form');
    await form.locator('select[name=category]').selectOption('city_environment');
    await form.locator('select[name=subcategory]').selectOption('exposed_garbage');
    const description = '西郊路口垃圾堆放，需要社区协调清运';
    await form.locator('textarea[name=description]').fill(description);
    await form.locator('input[name=path][value=coordinate]').check();
    await form.locator('select[name=gridId]').selectOption('grid-xijiao-01');
    await form.getByRole('button', { name: '提交' }).click();
    const incident = await caseDescribed(description);
    expect(incident).toMatchObject({
      state: 'new',
      gridId: 'grid-xijiao-01',
      responsibleNodeId: 'community-xijiao',
      origin: { kind: 'field_report', path: 'coordinate', reportedBy: 'worker-xijiao-01' },
    });
    await expect.poll(() => form.isHidden(), wait).toBe(true);
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    // Named by the catalogue, category and sub-category, never by their ids.
    await expect
      .poll(() => officer.locator('#incident-category').textContent(), wait)
      .toBe('市容环境 · 暴露垃圾');
  });

  it('a 登记 from the officer console appears on the worker page with its procedure', async () => {
    const officer = await openPage('officer', 'officer-xijiao');
    const worker = await openPage('worker', 'worker-xijiao-01');
    await officer.locator('#register').click();
    const form = officer.locator('#register-form');
    await form.locator('select[name=source]').selectOption('phone');
    await form.locator('input[name=reporterName]').fill('李四');
    await form.locator('input[name=reporterPhone]').fill('13700002222');
    await form.locator('select[name=gridId]').selectOption('grid-xijiao-01');
    await form.locator('select[name=category]').selectOption('street_order');
    await form.locator('select[name=subcategory]').selectOption('illegal_parking');
    const description = '居民来电：小区门口车辆乱停堵塞消防通道';
    await form.locator('textarea[name=description]').fill(description);
    await form.getByRole('button', { name: '提交' }).click();
    const incident = await caseDescribed(description);
    expect(incident).toMatchObject({ state: 'dispatched', assignees: ['worker-xijiao-01'] });
    const card = worker.locator(`#tasks li[data-id="${incident.id}"]`);
    await card.waitFor(wait);
    expect(await card.locator('[data-part=procedure] summary').textContent()).toBe('处置预案');
    expect(await card.locator('[data-part=procedure] li').first().textContent()).toBe('劝导当事人');
    // The number is on neither page.
    expect(await worker.content()).not.toContain('13700002222');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).waitFor(wait);
  });
});
