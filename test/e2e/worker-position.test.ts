import { describe, expect, it } from 'vitest';
import { getJson } from '../helpers/hub.ts';
import { chromiumHub, status, wait } from '../helpers/pages.ts';

/**
 * A grid worker shares their position from the worker page (Chromium's Geolocation, set by the test) and the duty
 * officer over their grid sees it on the console's map, live and after a reload; turning sharing off removes it.
 */
/** Inside grid-xijiao-01; the demo's map has no tiles, so WGS-84 is drawn as it is. */
const where = { latitude: 39.9321, longitude: 116.3043, accuracy: 18 };

describe("a worker's position on the officer's map", () => {
  const suite = chromiumHub();

  it('shows the marker where the phone is once the worker turns sharing on, and removes it when they turn it off', async () => {
    const officer = await suite.pages.open('officer', 'officer-xijiao');
    const worker = await suite.pages.open('worker', 'worker-xijiao-01', { geolocation: where });

    // Position sharing sits with the patrol, on its tab of the phone's bottom bar.
    await worker.getByRole('tab', { name: '巡查' }).click();
    const toggle = worker.getByLabel('共享我的位置');
    await toggle.waitFor(wait);
    expect(await toggle.isChecked()).toBe(false);
    await toggle.check();
    const section = worker.locator('#position-section');
    await expect.poll(() => section.getAttribute('data-sent-at'), wait).toMatch(/^\d{4}-/);
    expect(await section.getAttribute('data-state')).toBe('on');
    expect(await worker.locator('#position-note').textContent()).toContain('已共享位置');
    expect(
      (await getJson(`${suite.hub.httpUrl}/api/me/position-sharing`, 'demo-worker-xijiao-01')).body,
    ).toMatchObject({ enabled: true });

    // Live, from the push: at the phone's position, with the name, its age and the accuracy.
    const marker = officer.locator('#map path.worker[data-worker="worker-xijiao-01"]');
    await expect.poll(() => marker.getAttribute('data-latlng'), wait).toBe('39.932100,116.304300');
    expect(await marker.getAttribute('data-accuracy')).toBe('18');
    const label = officer.locator('.worker-label[data-worker="worker-xijiao-01"]');
    await expect.poll(() => label.textContent(), wait).toBe('赵磊 Zhao Lei · 刚刚');
    expect(await officer.locator('#map path.worker-accuracy').count()).toBe(1);

    // Loaded from the server at sync too: a reload draws it again.
    await officer.reload();
    await expect.poll(() => status(officer), wait).toBe('live');
    await expect.poll(() => marker.getAttribute('data-latlng'), wait).toBe('39.932100,116.304300');

    // The layer can be hidden and shown again like the grids and the devices.
    const layer = officer.getByLabel('在岗网格员');
    await layer.uncheck();
    await expect.poll(() => marker.count(), wait).toBe(0);
    await layer.check();
    await expect.poll(() => marker.count(), wait).toBe(1);

    await toggle.uncheck();
    await expect.poll(() => section.getAttribute('data-state'), wait).toBe('off');
    await expect.poll(() => marker.count(), wait).toBe(0);
    expect(await officer.locator('#map path.worker-accuracy').count()).toBe(0);
    expect(
      (await getJson(`${suite.hub.httpUrl}/api/me/position-sharing`, 'demo-worker-xijiao-01')).body,
    ).toMatchObject({ enabled: false });
  }, 60_000);
});
