import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { monthOf } from '../../src/assessment/scores.ts';
import { postJson } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * The 千分制 in Chromium: the officer console's assessment view ranks the community's grids and workers on its
 * 千分制 tab, each row opening onto its line items; the worker page shows 本月得分 with the items. The patrols'
 * records are written into the hub's store as the patrols write them.
 */

describe('the 千分制 on the console and the worker page', () => {
  // Each test opens its own pages; they are closed when the block ends, not after each test.
  const suite = chromiumHub(undefined, { keepPages: true });
  let month = '';

  beforeAll(async () => {
    month = monthOf(Date.now(), suite.hub.hub.deployment.settings.timezone);
    const store = suite.hub.testHandle.store;
    // Grid 3 patrolled three days (+3); grid 2 missed a patrol (−10) and a zero report (−5).
    for (const day of ['01', '02', '03']) {
      await store.putRecord('patrol-days', `grid-xijiao-03/${month}-${day}`, {
        gridId: 'grid-xijiao-03',
        date: `${month}-${day}`,
        required: 1,
        visited: ['point-1'],
        completed: true,
        userIds: ['worker-xijiao-03'],
      });
    }
    for (const kind of ['patrol', 'zero_report']) {
      await store.putRecord('duty-misses', `grid-xijiao-02/${month}-01/${kind}`, {
        gridId: 'grid-xijiao-02',
        date: `${month}-01`,
        kind,
        userIds: ['worker-xijiao-02'],
        incidentId: `inc_missed_${kind}`,
      });
    }
  });

  it('ranks the grids and then the workers on the 千分制 tab, each row opening onto its line items', async () => {
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    await officer.getByRole('tab', { name: '千分制' }).click();
    const rows = officer.locator('#scores-table tr.score-row');
    await expect.poll(() => rows.count(), wait).toBe(5);
    expect(await officer.locator('#figures-panel').isVisible()).toBe(false);
    expect(await rows.evaluateAll((all) => all.map((row) => [row.dataset.id, row.dataset.score]))).toEqual([
      ['grid-xijiao-03', '1003'],
      ['grid-xijiao-01', '1000'],
      ['grid-xijiao-04', '1000'],
      ['grid-xijiao-05', '1000'],
      ['grid-xijiao-02', '985'],
    ]);
    const details = officer.locator('#scores-table tr.score-details[data-id="grid-xijiao-02"]');
    expect(await details.isVisible()).toBe(false);
    await officer.locator('#scores-table tr.score-row[data-id="grid-xijiao-02"]').click();
    expect(await details.isVisible()).toBe(true);
    expect(await details.locator('li').allTextContents()).toEqual([
      `漏巡 ×1 -10 ${month}-01`,
      `漏报零报告 ×1 -5 ${month}-01`,
    ]);

    await officer.getByLabel('范围').selectOption('worker');
    await officer.locator('#scores-panel button[type="submit"]').click();
    await expect.poll(() => officer.locator('#scores-table').getAttribute('data-level'), wait).toBe('worker');
    expect(await rows.first().getAttribute('data-id')).toBe('worker-xijiao-03');
    expect(await rows.last().getAttribute('data-id')).toBe('worker-xijiao-02');
    // The workers' ranking as CSV, downloaded from the page (with the bearer token, which a plain link cannot send).
    const [download] = await Promise.all([
      officer.waitForEvent('download'),
      officer.locator('#scores-csv').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`scores-worker-${month}.csv`);
    const csv = await readFile((await download.path()) as string, 'utf8');
    expect(csv.startsWith('\uFEFF')).toBe(true);
    expect(csv.split('\r\n')[1]).toContain('worker-xijiao-03');

    // The figures tab is still there as it was.
    await officer.getByRole('tab', { name: '统计' }).click();
    expect(await officer.locator('#assessment-table').isVisible()).toBe(true);
    expect(await officer.locator('#scores-panel').isVisible()).toBe(false);
  });

  it('shows the worker 本月得分, their rank and the items', async () => {
    const worker = await suite.pages.open('worker', 'worker-xijiao-03');
    await worker.getByRole('tab', { name: '得分' }).click();
    const value = worker.locator('#month-score-value');
    await expect.poll(() => value.textContent(), wait).toBe('1003');
    const summary = worker.locator('#month-score summary');
    expect(await summary.textContent()).toMatch(/^本月得分 1003 第 1 名 \/ 共 \d+ 名$/);
    // On its own tab the items show without a tap.
    expect(await worker.locator('#month-score li').first().isVisible()).toBe(true);
    expect(await worker.locator('#month-score li').allTextContents()).toEqual([
      `完成巡查 ×3 +3 ${month}-01、${month}-02、${month}-03`,
    ]);
  });

  // Last: its case moves worker-xijiao-01 up the workers' ranking the test above reads.
  it('follows the cases on the open 千分制 tab: a case closed changes the score without a reload, few reads', async () => {
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    const reads: number[] = [];
    officer.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/assessment/scores') reads.push(Date.now());
    });
    await officer.getByRole('tab', { name: '千分制' }).click();
    const row = officer.locator('#scores-table tr.score-row[data-id="grid-xijiao-01"]');
    await expect.poll(() => row.getAttribute('data-score'), wait).toBe('1000');
    // A mark on the page itself: a reload would lose it.
    await officer.evaluate(() => Object.assign(globalThis, { stayed: true }));

    // The worker handles a 随手拍 on the spot (办结); the centre verifies and closes it.
    const reported = await postJson<{ id: string }>(
      `${suite.hub.httpUrl}/api/cases`,
      'demo-worker-xijiao-01',
      {
        category: 'city_environment',
        subcategory: 'exposed_garbage',
        description: '西郊路口有暴露垃圾',
        gridId: 'grid-xijiao-01',
        path: 'on_spot',
        note: '已清理',
      },
    );
    expect(reported.status).toBe(201);
    const verified = await postJson<{ state: string }>(
      `${suite.hub.httpUrl}/api/incidents/${reported.body.id}/actions/verify`,
      'demo-officer-xijiao',
    );
    expect(verified.body.state).toBe('closed');

    // Within the panel's refresh interval (15 s), by the pushes alone.
    await expect
      .poll(async () => Number(await row.getAttribute('data-score')), { timeout: 30_000 })
      .toBeGreaterThan(1000);
    await row.click();
    const items = await officer.locator('tr.score-details[data-id="grid-xijiao-01"] li').allTextContents();
    expect(items.some((item) => item.startsWith('按期办结 ×1'))).toBe(true);
    expect(await officer.evaluate(() => (globalThis as { stayed?: boolean }).stayed)).toBe(true);
    // Not a read per push (the case's creation, its resolution and its closing pushed several changes): the one on
    // showing the tab, then at most one per interval.
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < reads.length; i++)
      expect((reads[i] ?? 0) - (reads[i - 1] ?? 0)).toBeGreaterThan(14_000);
  }, 60_000);
});
