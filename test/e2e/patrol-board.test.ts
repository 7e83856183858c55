import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, postJson, temporaryDirectory } from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * The centre's side of the patrols in Chromium: a worker patrols grid-xijiao-01 and sends its zero report through the
 * API; the officer console's 巡查 tab shows it by name, grid-xijiao-02 (nothing done) first; a grid opens onto its
 * check-ins and work log; the printed QR codes decode, read by ZBar (zbarimg, not this project's code), to the
 * points' check-in addresses. On the worker page, 相机扫码签到 shows only where the browser has BarcodeDetector.
 */
const run = promisify(execFile);

describe("the console's patrol board and the points' QR codes", () => {
  const suite = chromiumHub(undefined, {
    keepPages: true,
    chromiumArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  const directory = temporaryDirectory('gridhub-board-');
  afterAll(() => directory.remove());

  const url = (path: string) => `${suite.hub.httpUrl}${path}`;
  const qrOf = async (pointId: string) =>
    (await getJson(url(`/api/patrols/points/${pointId}/qr`), 'demo-chief-xijiao')).body as {
      token: string;
      url: string;
    };
  const open = (kind: 'officer' | 'worker', userId: string, init?: () => void) =>
    suite.pages.open(kind, userId, init === undefined ? {} : { initScripts: [init] });

  it("shows a worker's patrol and zero report by name, the grid not done first, the work log and the QR codes", async () => {
    const worker = 'demo-worker-xijiao-01';
    for (const pointId of ['xj01-north-gate', 'xj01-south-lane']) {
      const { token } = await qrOf(pointId);
      const answer = await postJson(url('/api/patrols/checkins'), worker, {
        pointId,
        method: 'qr',
        code: token,
      });
      expect(answer.status).toBe(201);
    }
    const square = await postJson(url('/api/patrols/checkins'), worker, {
      pointId: 'xj01-square',
      method: 'geofence',
      position: { lon: 116.3043, lat: 39.9321, accuracyM: 15 },
    });
    expect(square.status).toBe(201);
    const zero = await postJson(url('/api/patrols/zero-report'), worker, {
      gridId: 'grid-xijiao-01',
      note: '未发现问题',
    });
    expect(zero.status).toBe(201);

    // Grid 2's patrol was judged missed: the duty sweep's record of it names the case it raised (written as the
    // sweep writes it; the case is a registered one, for the panel to open).
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
    const raised = await postJson<{ id: string }>(url('/api/cases/register'), 'demo-officer-xijiao', {
      source: 'phone',
      gridId: 'grid-xijiao-02',
      category: 'street_order',
      description: '网格2今日未巡查',
    });
    expect(raised.status).toBe(201);
    await suite.hub.testHandle.store.putRecord('duty-misses', `grid-xijiao-02/${today}/patrol`, {
      gridId: 'grid-xijiao-02',
      date: today,
      kind: 'patrol',
      userIds: ['worker-xijiao-02'],
      incidentId: raised.body.id,
    });

    const officer = await open('officer', 'officer-xijiao');
    await officer.getByRole('tab', { name: '巡查' }).click();
    const rows = officer.locator('#board-table tr.board-row');
    await rows.first().waitFor(wait);
    expect(await officer.locator('#scores-panel').isVisible()).toBe(false);
    expect(await officer.locator('#figures-panel').isVisible()).toBe(false);
    // Only the community's patrol grids; the one with nothing done needs attention first.
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-grid')))).toEqual([
      'grid-xijiao-02',
      'grid-xijiao-01',
    ]);
    const idle = rows.nth(0);
    expect(await idle.getAttribute('data-patrol')).not.toBe('done');
    expect(await idle.getAttribute('data-zero-report')).not.toBe('done');
    expect(await idle.locator('.board-patrol').textContent()).toMatch(/^0\/2 /);
    // The missed patrol's case by what was missed, never its id; it opens in the case panel.
    expect(await idle.getAttribute('data-patrol')).toBe('missed');
    const missedCase = idle.locator('.board-cases button');
    expect(await missedCase.textContent()).toBe('漏巡案件');
    expect(await idle.locator('.board-cases').textContent()).not.toContain(raised.body.id);
    await missedCase.click();
    await expect
      .poll(() => officer.locator('#incident-description').textContent(), wait)
      .toBe('网格2今日未巡查');
    const done = rows.nth(1);
    expect(await done.getAttribute('data-patrol')).toBe('done');
    expect(await done.getAttribute('data-zero-report')).toBe('done');
    expect(await done.locator('td').first().textContent()).toBe('西郊第1网格 Xijiao Grid 1');
    expect(await done.locator('.board-patrol').textContent()).toBe('3/3 已完成');
    expect(await done.locator('.board-zero').textContent()).toContain('已完成');
    expect(await done.locator('.board-zero').textContent()).toContain('赵磊 Zhao Lei');
    expect(await done.locator('.board-zero').textContent()).not.toContain('worker-xijiao-01');
    expect(await done.locator('.board-workers').textContent()).toContain('赵磊 Zhao Lei(3)');

    // The grid opens onto its check-ins and the worker's work log, text and CSV.
    await done.click();
    const details = officer.locator('#board-table tr.board-details[data-grid="grid-xijiao-01"]');
    await details.locator('.board-checkins li').first().waitFor(wait);
    expect(await details.locator('.board-checkins li').count()).toBe(3);
    expect(await details.locator('.board-checkins').textContent()).toContain(
      '赵磊 Zhao Lei · 北门岗亭 · 扫码',
    );
    const log = details.locator('.board-worklog[data-user="worker-xijiao-01"]');
    expect(await log.locator('pre').textContent()).toContain('巡查签到(扫码):北门岗亭');
    expect(await log.locator('pre').textContent()).toContain('零报告');
    // Names, not ids: the grid as the officers know it.
    expect(await log.locator('pre').textContent()).toContain(
      '网格 西郊第1网格 Xijiao Grid 1:巡查 3/3 点,已完成;零报告:已报',
    );
    expect(await log.locator('pre').textContent()).not.toContain('grid-xijiao-01');
    const [download] = await Promise.all([
      officer.waitForEvent('download'),
      log.locator('a.worklog-csv').click(),
    ]);
    const csv = path.join(directory.path, 'worklog.csv');
    await download.saveAs(csv);
    expect((await readFile(csv, 'utf8')).replace(/^\uFEFF/, '').split('\r\n')[0]).toBe('时间,类别,内容,对象');

    // The print view: each QR point's name, grid and code; ZBar reads the codes back as the check-in addresses.
    await details.getByRole('button', { name: '打印巡查点二维码' }).click();
    const sheet = officer.locator('#qr-sheet');
    await sheet.locator('figure.qr-card img').nth(1).waitFor(wait);
    expect(
      await sheet.locator('figure.qr-card').evaluateAll((all) => all.map((card) => card.textContent)),
    ).toEqual([
      expect.stringContaining('北门岗亭西郊第1网格 Xijiao Grid 1'),
      expect.stringContaining('南巷口西郊第1网格 Xijiao Grid 1'),
    ]);
    await officer.waitForFunction(
      "[...document.querySelectorAll('#qr-sheet img')].every((image) => image.complete && image.naturalWidth > 0)",
    );
    const png = path.join(directory.path, 'qr-sheet.png');
    await writeFile(png, await sheet.screenshot({ type: 'png' }));
    const { stdout } = await run('zbarimg', ['--raw', '-q', png]);
    const expected = await Promise.all(
      ['xj01-north-gate', 'xj01-south-lane'].map(
        async (pointId) => `${suite.hub.httpUrl}${(await qrOf(pointId)).url}`,
      ),
    );
    expect(stdout.trim().split('\n').sort()).toEqual(expected.sort());
    // Printed, only the sheet shows (its buttons left off).
    await officer.emulateMedia({ media: 'print' });
    expect(await officer.locator('#board-table tr.board-row').first().isVisible()).toBe(false);
    expect(await sheet.locator('figure.qr-card').first().isVisible()).toBe(true);
    expect(await sheet.getByRole('button', { name: '打印' }).isVisible()).toBe(false);
  });

  it('offers 相机扫码签到 only where the browser has BarcodeDetector, and checks in with the code it reads', async () => {
    // This Chromium has no BarcodeDetector (desktop Linux): no button, the typed code stays.
    const plain = await open('worker', 'worker-xijiao-02');
    await plain.getByRole('tab', { name: '巡查' }).click();
    await plain.locator('#patrol-section li[data-point="xj02-school"]').waitFor(wait);
    expect(await plain.evaluate(() => 'BarcodeDetector' in globalThis)).toBe(false);
    expect(await plain.locator('#patrol-scan').count()).toBe(0);
    expect(await plain.locator('#patrol-code').isVisible()).toBe(true);

    // A phone's BarcodeDetector, stood in by one that "sees" the printed link in the (fake) camera's picture: the page
    // opens the camera, takes the code out of the link and checks in with it.
    const link = `${suite.hub.httpUrl}${(await qrOf('xj02-school')).url}`;
    const phone = await open('worker', 'worker-xijiao-02', () => {
      class StandInDetector {
        async detect(source: { srcObject: unknown }) {
          const seen = (globalThis as { seenLink?: string }).seenLink;
          return source.srcObject && seen ? [{ rawValue: seen, format: 'qr_code' }] : [];
        }
      }
      Object.assign(globalThis, { BarcodeDetector: StandInDetector });
    });
    await phone.getByRole('tab', { name: '巡查' }).click();
    const school = phone.locator('#patrol-section li[data-point="xj02-school"]');
    await school.waitFor(wait);
    expect(await school.getAttribute('data-visited')).toBe('false');
    await phone.evaluate((seen) => Object.assign(globalThis, { seenLink: seen }), link);
    await phone.getByRole('button', { name: '相机扫码签到' }).click();
    await expect.poll(() => school.getAttribute('data-visited'), wait).toBe('true');
    expect(await phone.locator('#patrol-note').textContent()).toBe('已在小学门口签到');
    // The camera is let go once the code is read.
    expect(await phone.locator('video.patrol-scan-video').isHidden()).toBe(true);
  });
});
