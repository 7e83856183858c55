import gcoord from 'gcoord';
import { afterAll, describe, expect, it } from 'vitest';
import type { EvidenceItem, Incident } from '../../src/core/incident.ts';
import { ffmpegMake, ffprobe, jpegWithGps } from '../helpers/field-media.ts';
import {
  DemoGates,
  deploymentOf,
  incidentOf as deviceIncident,
  getJson,
  postJson,
  quietDemoConfig,
  startTestHub,
} from '../helpers/hub.ts';
import { chromiumHub, wait } from '../helpers/pages.ts';

/**
 * The worker's field work in a real browser (#24): the task card's place (address, grid, map pin, navigation links),
 * 到达 with the phone's position, photos from the phone's camera, a returned case, tasks by urgency; and what the
 * officer console shows of it.
 */
const placed = 'gate-xijiao-01-south';
const unplaced = 'gate-xijiao-01-north';
const location: [number, number] = [116.304342, 39.930992];
const address = '西郊路12号南门';
const officerToken = 'demo-officer-xijiao';

describe('the worker’s field work in Chromium', () => {
  const suite = chromiumHub(() => {
    // Only the tests' own cases: no device goes offline and raises one while the pages are driven.
    const config = quietDemoConfig();
    config.devices = config.devices.map((device) => (device.id === placed ? { ...device, address } : device));
    return startTestHub({ deployment: deploymentOf(config) });
  });
  const gates = new DemoGates(() => suite.hub.mqttUrl);

  const gate = (deviceId: string) => gates.gate(deviceId);

  /** A page logged in as the user; the worker's phone with its position granted and set. */
  const openPage = (
    kind: 'officer' | 'worker',
    userId: string,
    position?: { longitude: number; latitude: number; accuracy: number },
  ) => suite.pages.open(kind, userId, position === undefined ? {} : { geolocation: position });

  /** The newest incident of this device and event, once the hub has it. */
  const incidentOf = (deviceId: string, type: string) => deviceIncident(suite.hub.httpUrl, deviceId, type);

  afterAll(async () => {
    await gates.stopAll();
  });

  it('shows the tasks most urgent first, each with its address, grid, map pin and navigation links', async () => {
    // Raised least urgent first: by age alone they would come out the other way round.
    await (await gate(placed)).holdDoor();
    await incidentOf(placed, 'door.held_open');
    await (await gate(placed)).blacklisted();
    await incidentOf(placed, 'access.blacklisted');
    await (await gate(unplaced)).forceDoor();
    await incidentOf(unplaced, 'door.forced_open');
    const worker = await openPage('worker', 'worker-xijiao-01');
    await expect
      .poll(
        () =>
          worker
            .locator('#tasks li[data-id]')
            .evaluateAll((items) => items.map((item) => item.getAttribute('data-severity'))),
        wait,
      )
      .toEqual(['critical', 'major', 'warning']);

    const card = worker.locator(`#tasks li[data-device="${placed}"][data-severity="warning"]`);
    expect(await card.locator('.task-address').textContent()).toContain(address);
    expect(await card.locator('.task-grid').textContent()).toContain('西郊第1网格');
    // The map: the grid's outline and the device's pin, with no tiles configured.
    await card.locator(`.task-map [data-device="${placed}"]`).waitFor(wait);
    expect(await card.locator('.task-map [data-grid="grid-xijiao-01"]').count()).toBe(1);
    expect(await card.locator('.task-map').getAttribute('data-tiles')).toBe('none');

    const href = (provider: string) =>
      card.locator(`.navigate a[data-provider="${provider}"]`).getAttribute('href');
    const gcj = gcoord.transform(location, gcoord.WGS84, gcoord.GCJ02) as [number, number];
    const amap = new URL((await href('amap')) ?? '');
    expect(amap.origin + amap.pathname).toBe('https://uri.amap.com/marker');
    const [lon, lat] = (amap.searchParams.get('position') ?? '').split(',').map(Number) as [number, number];
    expect(lon).toBeCloseTo(gcj[0], 5);
    expect(lat).toBeCloseTo(gcj[1], 5);
    expect(amap.searchParams.get('name')).toBe(address);
    expect(await href('baidu')).toMatch(
      /^https:\/\/api\.map\.baidu\.com\/marker\?location=39\.9\d+,116\.3\d+&.*coord_type=bd09ll/,
    );
    expect(await href('geo')).toMatch(/^geo:39\.930992,116\.304342\?q=/);
    // A device placed by grid, not by location: a pin in its grid, and nothing to navigate to.
    const other = worker.locator(`#tasks li[data-device="${unplaced}"]`);
    await other.locator(`.task-map [data-device="${unplaced}"]`).waitFor(wait);
    expect(await other.locator('.navigate').count()).toBe(0);
  });

  it('到达 far from the device is flagged on the card and on the officer console', async () => {
    const incident = await incidentOf(placed, 'door.held_open');
    // About 850 m east of the device.
    const worker = await openPage('worker', 'worker-xijiao-01', {
      longitude: location[0] + 0.01,
      latitude: location[1],
      accuracy: 20,
    });
    const card = worker.locator(`#tasks li[data-id="${incident.id}"]`);
    await card.locator('[data-action="accept"]').click();
    await expect.poll(() => card.getAttribute('data-state'), wait).toBe('accepted');
    await card.locator('[data-action="arrive"]').click();
    await expect.poll(() => card.getAttribute('data-state'), wait).toBe('on_site');
    expect(await card.locator('.arrival').getAttribute('data-far')).toBe('true');
    expect(await card.locator('.arrival').textContent()).toMatch(/距设备 8\d\d 米，超出范围/);

    const officer = await openPage('officer', 'officer-xijiao');
    const item = officer.locator(`#feed li[data-id="${incident.id}"]`);
    await item.locator('.badge.far').waitFor(wait);
    await item.click();
    await expect.poll(() => officer.locator('#arrival').getAttribute('data-far'), wait).toBe('true');
  });

  it('uploads a photo from the phone’s camera, downscaled, and the officer console shows it', async () => {
    const incident = await incidentOf(placed, 'door.held_open');
    const worker = await openPage('worker', 'worker-xijiao-01', {
      longitude: location[0],
      latitude: location[1],
      accuracy: 10,
    });
    const card = worker.locator(`#tasks li[data-id="${incident.id}"]`);
    await card.locator('select.stage').selectOption('before');
    // A photo larger than the page sends as it is (3000 px wide): re-encoded on a canvas to 2048 px first.
    const large = ffmpegMake('jpg', ['-frames:v', '1', '-q:v', '2'], 'testsrc=size=3000x2000');
    await card.locator('input[type="file"]').setInputFiles([
      { name: 'scene.jpg', mimeType: 'image/jpeg', buffer: large },
      { name: 'gps.jpg', mimeType: 'image/jpeg', buffer: jpegWithGps(39.931, 116.3043) },
    ]);
    await expect.poll(() => card.locator('.evidence img[data-kind="photo"]').count(), wait).toBe(2);
    await expect.poll(() => card.locator('.upload-status').textContent(), wait).toBe('已上传');

    const { body } = await getJson(`${suite.hub.httpUrl}/api/incidents/${incident.id}`, officerToken);
    const photos = ((body as Incident).evidence ?? []).filter(
      (entry) => entry.kind === 'photo',
    ) as EvidenceItem[];
    expect(photos.map((photo) => photo.stage)).toEqual(['before', 'before']);
    // The phone's position went with each upload; the small one's own GPS EXIF wins over it.
    expect(photos[0]?.position).toMatchObject({ lon: location[0], lat: location[1] });
    const first = await fetch(`${suite.hub.httpUrl}${photos[0]?.url}`, {
      headers: { authorization: `Bearer ${officerToken}` },
    });
    const stream = JSON.parse(ffprobe(Buffer.from(await first.arrayBuffer()), 'jpg')).streams[0];
    expect(Math.max(stream.width, stream.height)).toBe(2048);

    const officer = await openPage('officer', 'officer-xijiao');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    const figures = officer.locator('#evidence figure[data-kind="photo"][data-stage="before"]');
    await expect.poll(() => figures.count(), wait).toBe(2);
    await expect.poll(() => figures.first().locator('img').getAttribute('src'), wait).toMatch(/^blob:/);
    expect(await figures.first().locator('figcaption').textContent()).toContain('处置前照片');
  });

  it('a rejected case shows the officer’s note and the rework badge', async () => {
    const incident = await incidentOf(placed, 'door.held_open');
    const worker = await openPage('worker', 'worker-xijiao-01');
    const card = worker.locator(`#tasks li[data-id="${incident.id}"]`);
    await card.locator('textarea').fill('门已关好');
    await card.locator('[data-action="resolve"]').click();
    await expect.poll(() => card.getAttribute('data-state'), wait).toBe('resolved');
    // Awaiting verification, photos may still be added: 请补充现场照片 is answered that way.
    expect(await card.locator('input[type="file"]').count()).toBe(1);
    const rejected = await postJson(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/reject`,
      officerToken,
      {
        note: '请补充现场照片',
      },
    );
    expect(rejected.status).toBe(200);
    await expect.poll(() => card.getAttribute('data-state'), wait).toBe('accepted');
    expect(await card.locator('.returned').textContent()).toContain('请补充现场照片');
    expect(await card.locator('.badge.rework').textContent()).toBe('返工 ×1');
  });

  it('switches between the bottom tabs, remembers the chosen one, and counts the new tasks on 任务', async () => {
    const worker = await openPage('worker', 'worker-xijiao-01');
    const tab = (name: string) => worker.getByRole('tab', { name });
    const tasks = worker.locator('#tasks');
    const badge = tab('任务').locator('.tab-badge');
    // 任务 first: the list shows, the other parts do not.
    expect(await tab('任务').getAttribute('aria-selected')).toBe('true');
    expect(await tasks.isVisible()).toBe(true);
    expect(await badge.isVisible()).toBe(false);

    await tab('得分').click();
    expect(await tab('得分').getAttribute('aria-selected')).toBe('true');
    expect(await tab('任务').getAttribute('aria-selected')).toBe('false');
    expect(await tasks.isVisible()).toBe(false);
    expect(await worker.locator('#panel-score').isVisible()).toBe(true);
    // The phone keeps the choice: the page opens on 得分 again.
    await worker.reload();
    await expect.poll(() => worker.locator('#status').getAttribute('data-status'), wait).toBe('live');
    expect(await tab('得分').getAttribute('aria-selected')).toBe('true');
    expect(await tasks.isVisible()).toBe(false);

    // Two tasks arrive while 得分 is shown: the 任务 tab counts them.
    await (await gate(unplaced)).holdDoor();
    await expect.poll(() => badge.getAttribute('data-count'), wait).toBe('1');
    expect(await badge.textContent()).toBe('1');
    expect(await badge.getAttribute('aria-label')).toBe('1 个新任务');
    await (await gate(unplaced)).blacklisted();
    await expect.poll(() => badge.getAttribute('data-count'), wait).toBe('2');

    // Shown, they are no longer new to the worker: the badge goes, the cards are marked as new.
    await tab('任务').click();
    expect(await tasks.isVisible()).toBe(true);
    expect(await badge.isVisible()).toBe(false);
    const arrived = tasks.locator('li.fresh');
    const held = await incidentOf(unplaced, 'door.held_open');
    const listed = await incidentOf(unplaced, 'access.blacklisted');
    await expect.poll(() => arrived.count(), wait).toBe(2);
    expect((await arrived.evaluateAll((cards) => cards.map((card) => card.dataset.id))).sort()).toEqual(
      [held.id, listed.id].sort(),
    );
    // Their maps, made while the panel was hidden, are drawn at their size once it shows: the grid's outline has one.
    const outline = tasks.locator(`li[data-id="${held.id}"] .task-map [data-grid="grid-xijiao-01"]`);
    await outline.waitFor(wait);
    expect((await outline.boundingBox())?.width ?? 0).toBeGreaterThan(20);

    // In English, the same tabs in its words.
    await worker.locator('#language').selectOption('en');
    await expect
      .poll(() => worker.getByRole('tab').allTextContents(), wait)
      .toEqual(['Tasks', 'Report', 'Patrol', 'Score']);
  });
});
