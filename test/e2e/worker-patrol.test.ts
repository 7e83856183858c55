import { describe, expect, it } from 'vitest';
import { getJson } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * A grid worker patrols from the worker page: at a point (Chromium's Geolocation, set by the test) 签到 ticks it; a
 * QR code's link (?patrolCode=…) checks in at its point; 零报告 is sent once; 今日工作日志 lists the day.
 */
/** At the demo's xj01-square point (config/demo.yaml patrols). */
const atSquare = { latitude: 39.9321, longitude: 116.3043, accuracy: 15 };

describe("a worker's patrol on the worker page", () => {
  const suite = chromiumHub();

  it('checks in by position and by a QR link, sends the zero report, and shows the work log', async () => {
    const page = await suite.pages.open('worker', 'worker-xijiao-01', { geolocation: atSquare });
    // The patrol is on its own tab of the phone's bottom bar.
    await page.getByRole('tab', { name: '巡查' }).click();

    const square = page.locator('#patrol-section li[data-point="xj01-square"]');
    await square.waitFor(wait);
    expect(await square.getAttribute('data-visited')).toBe('false');
    await square.getByRole('button', { name: '签到' }).click();
    await expect.poll(() => square.getAttribute('data-visited'), wait).toBe('true');
    expect(await page.locator('#patrol-note').textContent()).toBe('已在中心广场签到');

    // Too far from the south lane: refused, in words, and not ticked.
    const south = page.locator('#patrol-section li[data-point="xj01-south-lane"]');
    await south.getByRole('button', { name: '签到' }).click();
    await expect
      .poll(() => page.locator('#patrol-note').textContent(), wait)
      .toBe('当前位置不在巡查点范围内');
    expect(await south.getAttribute('data-visited')).toBe('false');

    // The QR code printed at the north gate opens the page with its code: checked in there.
    const qr = (
      await getJson(`${suite.hub.httpUrl}/api/patrols/points/xj01-north-gate/qr`, 'demo-chief-xijiao')
    ).body as {
      url: string;
    };
    await page.goto(`${suite.hub.httpUrl}${qr.url}`);
    const gate = page.locator('#patrol-section li[data-point="xj01-north-gate"]');
    await expect.poll(() => gate.getAttribute('data-visited'), wait).toBe('true');
    expect(new URL(page.url()).search).toBe('');
    expect(await page.locator('.patrol-progress').first().textContent()).toContain(
      '西郊第1网格 Xijiao Grid 1：已巡 2/3 点',
    );

    await page.locator('button[data-zero-report="grid-xijiao-01"]').click();
    await expect.poll(() => page.locator('.zero-done').textContent(), wait).toContain('今日零报告已提交');
    expect(
      (await getJson(`${suite.hub.httpUrl}/api/patrols/points`, 'demo-worker-xijiao-01')).body,
    ).toMatchObject({
      grids: [{ gridId: 'grid-xijiao-01', zeroReport: { userId: 'worker-xijiao-01' } }],
    });

    await page.getByRole('button', { name: '查看今日工作日志' }).click();
    const log = page.locator('#worklog');
    await expect.poll(() => log.textContent(), wait).toContain('巡查签到(扫码):北门岗亭');
    expect(await log.textContent()).toContain('巡查签到(定位):中心广场');
    expect(await log.textContent()).toContain('零报告');
  });
});
