import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Locator } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { findIncident, postJson, startQuietDemoHub } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * A 12345 work order from intake to 回访 on the duty officer's console (#25): the platform's requests are signed by
 * the openssl command line, not by the hub's own code, so a mistake in hotlineSignature cannot pass unseen.
 */
const workerToken = 'demo-worker-xijiao-01';
/** The demo platform (config/demo.yaml hotline.platforms). */
const appKey = 'demo-12345';
const secret = 'demo-12345-platform-secret-not-for-production';
const prefix = '/api/hotline/v1';

/** hex of `openssl dgst -sha256 [-hmac key]` over the input. */
function openssl(input: string, hmacKey?: string): string {
  const output = execFileSync(
    'openssl',
    ['dgst', '-sha256', ...(hmacKey === undefined ? [] : ['-hmac', hmacKey])],
    {
      input,
    },
  ).toString();
  const hex = /= ([0-9a-f]{64})\s*$/.exec(output)?.[1];
  if (hex === undefined) throw new Error(`unexpected openssl output: ${output}`);
  return hex;
}

describe('a 12345 work order on the console, in Chromium', () => {
  const suite = chromiumHub(startQuietDemoHub);

  /** A request as the platform sends it: X-Signature = HMAC-SHA256(secret, METHOD\npath\nts\nnonce\nsha256(body)). */
  async function platform(method: 'GET' | 'POST', path: string, body?: unknown) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID().replaceAll('-', '');
    const signed = `${method}\n${prefix}${path}\n${timestamp}\n${nonce}\n${openssl(text)}`;
    const response = await fetch(`${suite.hub.httpUrl}${prefix}${path}`, {
      method,
      headers: {
        'x-app-key': appKey,
        'x-timestamp': timestamp,
        'x-nonce': nonce,
        'x-signature': openssl(signed, secret),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: text }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const officerPage = () => suite.pages.open('officer', 'officer-xijiao');

  const caseOf = (no: string) =>
    findIncident(suite.hub.httpUrl, (incident) => incident.origin?.externalId === no, { limit: 100 });

  async function worker(incidentId: string, action: string, note?: string): Promise<void> {
    const answer = await postJson(
      `${suite.hub.httpUrl}/api/incidents/${incidentId}/actions/${action}`,
      workerToken,
      note === undefined ? {} : { note },
    );
    expect(answer.status, action).toBe(200);
  }

  const text = (locator: Locator) => locator.textContent();

  it('is signed for, handled, sent back by an unsatisfied 回访, handled again and closed', async () => {
    const officer = await officerPage();
    const no = `GD${Date.now()}`;
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
    const incident = await caseOf(no);

    // In the list, live, marked 待签收 with the platform's deadline in local time.
    const item = officer.locator(`#feed li[data-id="${incident.id}"]`);
    await item.waitFor(wait);
    expect(await text(item.locator('[data-work-order=unsigned]'))).toBe('待签收');
    expect(await text(item.locator('.platform-deadline'))).toBe('时限 12-09 12:00');

    // The panel's section: number, state, deadline; dispatched by the routing to the grid's worker on duty.
    await item.click();
    const section = officer.locator('#work-order');
    await section.waitFor(wait);
    expect(await text(officer.locator('#work-order-no'))).toContain(no);
    expect(await text(officer.locator('#work-order-state'))).toBe('待签收');
    expect(await text(officer.locator('#work-order-deadline'))).toBe('2026-12-09 12:00:00');
    expect(await text(officer.locator('#work-order-visit'))).toBe('尚未回访');
    expect(await text(officer.locator('#assignees'))).toBe('赵磊 Zhao Lei');

    // 签收.
    await section.locator('button[data-work-order=sign]').click();
    await expect.poll(() => text(officer.locator('#work-order-state')), wait).toBe('已签收');
    expect(await text(officer.locator('#work-order-signed'))).toMatch(
      /^刘洋 Liu Yang \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
    expect(await section.locator('button[data-work-order]').count()).toBe(0);
    await expect.poll(() => item.locator('[data-work-order=unsigned]').count(), wait).toBe(0);
    expect((await platform('GET', `/work-orders/${no}`)).body.state).toBe('signed');

    // The worker handles it; the platform reads the result; the console shows it, live.
    await worker(incident.id, 'accept');
    await worker(incident.id, 'arrive');
    await expect.poll(() => text(officer.locator('#work-order-state')), wait).toBe('处理中');
    await worker(incident.id, 'resolve', '已联系排水公司疏通雨水口');
    const result = await platform('GET', `/work-orders/${no}`);
    expect(result.body).toMatchObject({
      state: 'resolved',
      result: { resolution: '已联系排水公司疏通雨水口' },
    });
    await expect.poll(() => text(officer.locator('#work-order-state')), wait).toBe('已处置，待核查');
    expect(await text(officer.locator('#work-order-result'))).toContain('已联系排水公司疏通雨水口');

    // 回访 not satisfied: back to the worker for rework, on the console at once.
    const unhappy = await platform('POST', `/work-orders/${no}/visit`, {
      satisfied: false,
      note: '仍有积水',
    });
    expect(unhappy.status).toBe(200);
    await expect
      .poll(() => text(officer.locator('#work-order-visit')), wait)
      .toMatch(/^不满意 \(已退回重办\) · 仍有积水 · \d{4}-/);
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('accepted');
    expect(await text(officer.locator('#work-order-state'))).toBe('处理中');

    // Handled again; 回访 satisfied; the officer verifies and the case closes.
    await worker(incident.id, 'resolve', '再次疏通，已无积水');
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('resolved');
    const happy = await platform('POST', `/work-orders/${no}/visit`, { satisfied: true });
    expect(happy.status).toBe(200);
    await expect.poll(() => text(officer.locator('#work-order-visit')), wait).toMatch(/^满意 · \d{4}-/);
    expect(await officer.locator('#work-order-visit').getAttribute('data-satisfied')).toBe('true');
    await officer.locator('#incident button[data-action="verify"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('closed');
    await expect.poll(() => text(officer.locator('#work-order-state')), wait).toBe('已办结');
    expect(await text(officer.locator('#work-order-visit'))).toMatch(/^满意/);
    expect((await platform('GET', `/work-orders/${no}`)).body).toMatchObject({
      state: 'closed',
      visit: { satisfied: true },
      result: { resolution: '再次疏通，已无积水' },
    });
    // The order's events are on the case's timeline, in words.
    const timeline = await text(officer.locator('#timeline'));
    expect(timeline).toContain('12345工单签收');
    expect(timeline).toContain('12345回访');
    // The reporter's number is nowhere on the page.
    expect(await officer.content()).not.toContain('13800001111');
  });

  it('is returned (退单) from the console with a required reason the platform reads', async () => {
    const officer = await officerPage();
    const no = `GD${Date.now()}R`;
    expect(
      (
        await platform('POST', '/work-orders', {
          no,
          title: '非本辖区',
          content: '反映的地址不在本社区',
          categoryCode: 'UNKNOWN-1',
        })
      ).status,
    ).toBe(201);
    const incident = await caseOf(no);
    const item = officer.locator(`#feed li[data-id="${incident.id}"]`);
    await item.waitFor(wait);
    await item.click();
    const section = officer.locator('#work-order');
    await section.waitFor(wait);
    // A category without a procedure: the panel leaves the section out (once drawn as the text "null").
    expect(await text(officer.locator('#incident'))).not.toContain('null');
    await section.locator('button[data-work-order=return]').click();
    const form = section.locator('#work-order-return-form');
    // No reason: refused on the page, nothing sent.
    await form.locator('button[data-work-order=confirm-return]').click();
    expect(await text(officer.locator('#work-order-error'))).toBe('请填写退单原因');
    expect((await platform('GET', `/work-orders/${no}`)).body.state).toBe('received');
    await form.locator('#work-order-reason').fill('地址不在本辖区，请转派');
    await form.locator('button[data-work-order=confirm-return]').click();
    await expect.poll(() => text(officer.locator('#work-order-state')), wait).toBe('已退单');
    expect(await text(officer.locator('#work-order-return-reason'))).toBe('地址不在本辖区，请转派');
    expect(await officer.locator('#incident-state').getAttribute('data-state')).toBe('cancelled');
    expect(await section.locator('button[data-work-order]').count()).toBe(0);
    expect((await platform('GET', `/work-orders/${no}`)).body).toMatchObject({
      state: 'returned',
      returnReason: '地址不在本辖区，请转派',
    });
  });
});
