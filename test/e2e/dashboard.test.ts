import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import { hashPassword } from '../../src/auth/passwords.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  DemoGates,
  deploymentOf,
  incidentOf as deviceIncident,
  eventually,
  getJson,
  postJson,
  projectRoot,
  quietDemoConfig,
  startTestHub,
} from '../helpers/hub.ts';
import { chromiumHub, status, wait } from '../helpers/pages.ts';

/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against a hub on
 * ephemeral ports fed by simulated gates. Screenshots are written only with UPDATE_SCREENSHOTS=1.
 */
const screenshots = path.join(projectRoot, 'docs', 'screenshots');
const updateScreenshots = process.env.UPDATE_SCREENSHOTS === '1';
/** A simulated ONVIF camera in Xijiao grid 5, for the evidence in the incident panel. */
const cameraId = 'cam-xijiao-05-east';
/** A second duty officer of the Xijiao community centre, beside demo-officer-xijiao. */
const colleagueToken = 'demo-officer-xijiao-colleague';

/** Records the vibrations the page asks for (headless Chromium has no motor to feel them). */
function recordVibrations(): void {
  const calls: unknown[] = [];
  Object.defineProperty(globalThis, 'recordedVibrations', { value: calls });
  Object.defineProperty(
    Object.getPrototypeOf((globalThis as unknown as { navigator: object }).navigator),
    'vibrate',
    {
      configurable: true,
      value: (pattern: unknown) => {
        calls.push(pattern);
        return true;
      },
    },
  );
}

describe('the officer console and the worker view in Chromium', () => {
  let camera: OnvifCameraSimulator;
  // The camera first: the hub's configuration names it. Each test's pages are closed after it: live pages left open
  // keep redrawing on every push and slow the rest.
  const suite = chromiumHub(async () => {
    camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'dashboard-camera-5',
      name: 'Xijiao 5 east',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-BOX',
      serialNumber: 'SIM-DASHBOARD-5',
      rtsp: true,
      discoveryPort: false,
    });
    await camera.start();
    // The demo's devices that never report here (a ZKTeco terminal goes offline after 30 s of silence) must not
    // open incidents of their own while the pages are driven: the feeds would hold more than each test makes.
    const config = quietDemoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
      users: Record<string, unknown>[];
      media: Record<string, unknown>;
    };
    config.devices.push({
      id: cameraId,
      name: 'Xijiao Grid 5 east camera',
      adapter: 'onvif-camera',
      grid: 'grid-xijiao-05',
      onvif: { xaddr: camera.xaddr, username: 'admin', password: 'dashboard-camera-5' },
      offlineAfterSeconds: 86_400,
    });
    config.users.push({
      id: 'officer-xijiao-colleague',
      name: '马丽 Ma Li',
      role: 'duty_officer',
      scope: 'community-xijiao',
      token: colleagueToken,
      passwordHash: await hashPassword('demo-password-officer-xijiao-colleague'),
    });
    config.media = { ...config.media, clipSeconds: 2 };
    return startTestHub({ deployment: deploymentOf(config), onvifTiming: { aliveEveryMs: 500 } });
  });
  const gates = new DemoGates(() => suite.hub.mqttUrl);
  /** Every URL the pages asked for, to prove they need no outside network. */
  const requested: string[] = [];

  beforeAll(() => {
    if (updateScreenshots) mkdirSync(screenshots, { recursive: true });
  });

  afterAll(async () => {
    await gates.stopAll();
    await camera?.stop();
  });

  const gate = (deviceId: string) => gates.gate(deviceId);

  /** The page logged in as the user of the demo token (`demo-<id>`); the worker's on a sharp phone screen. */
  async function openPage(
    kind: 'officer' | 'worker',
    token: string,
    viewport?: { width: number; height: number },
  ) {
    const page = await suite.pages.open(kind, token.replace(/^demo-/, ''), {
      ...(viewport === undefined ? {} : { viewport }),
      ...(kind === 'worker' ? { deviceScaleFactor: 2 } : {}),
      initScripts: [recordVibrations],
      beforeLoad: (page) => page.on('request', (request) => requested.push(request.url())),
    });
    return { page, context: page.context() };
  }

  /** One data attribute of every item in the page's alarm list, in order. */
  const feedValues = (page: Page, attribute: string) =>
    page
      .locator('#feed li')
      .evaluateAll((items, name) => items.map((item) => item.getAttribute(name)), attribute);

  /** The newest incident of a device as the officer's API sees it, once there is one. */
  const incidentOf = (deviceId: string) => deviceIncident(suite.hub.httpUrl, deviceId);

  it('shows a forced gate on the feed; the officer dispatches it, the worker accepts and resolves it, the officer sees it resolved', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const { page: worker } = await openPage('worker', 'demo-worker-xijiao-01');
    await expect.poll(() => officer.locator('#map path[data-grid]').count(), wait).toBeGreaterThan(0);
    const before = Number(await officer.locator('#unacked').textContent());

    await (await gate('gate-xijiao-01-north')).forceDoor();
    const alarm = officer.locator('#feed li[data-device="gate-xijiao-01-north"]').first();
    await alarm.waitFor(wait);
    expect(await alarm.getAttribute('data-severity')).toBe('critical');
    // A critical alarm sounds on the console (the page records when it played a tone).
    expect(await officer.locator('body').getAttribute('data-last-sound')).toMatch(/^\d+$/);
    await expect
      .poll(async () => Number(await officer.locator('#unacked').textContent()), wait)
      .toBe(before + 1);
    await expect
      .poll(
        () => officer.locator('#map path[data-grid="grid-xijiao-01"]').getAttribute('data-severity'),
        wait,
      )
      .toBe('critical');

    await alarm.click();
    await officer.locator('#incident [data-action="acknowledge"]').click();
    await expect.poll(async () => Number(await officer.locator('#unacked').textContent()), wait).toBe(before);
    // The acknowledgement is the server's, for the officer's centre.
    expect((await incidentOf('gate-xijiao-01-north')).acknowledgements).toMatchObject([
      { nodeId: 'community-xijiao', userId: 'officer-xijiao' },
    ]);
    // The picker lists the grid's workers by name, on duty first (grid 1 has no roster: all are), with their load.
    const option = officer.locator('#assignee option[value="worker-xijiao-01"]');
    expect(await option.textContent()).toMatch(/^赵磊 Zhao Lei · 值班中 · 在办 \d+$/);
    expect(await option.getAttribute('data-on-duty')).toBe('true');
    expect(await officer.locator('#on-duty').textContent()).toContain('赵磊 Zhao Lei');
    // The centre that answers for it and its officers on duty (no centre roster: both of Xijiao's), by name.
    const centreDuty = await officer.locator('#centre-duty').textContent();
    expect(centreDuty).toMatch(/^西郊社区 Xijiao Community: /);
    expect(centreDuty).toContain('刘洋 Liu Yang');
    expect(centreDuty).toContain('马丽 Ma Li');
    await officer.locator('#assignee').selectOption('worker-xijiao-01');
    await officer.locator('#incident [data-action="dispatch"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('dispatched');
    // People by name: the id stays in a data attribute.
    await expect
      .poll(() => officer.locator('#assignees').getAttribute('data-users'), wait)
      .toBe('worker-xijiao-01');
    expect(await officer.locator('#assignees').textContent()).toBe('赵磊 Zhao Lei');
    await expect
      .poll(() => officer.locator('#timeline li[data-action="incident.dispatch"]').textContent(), wait)
      .toContain('刘洋 Liu Yang · 派遣');

    const task = worker.locator('#tasks li[data-device="gate-xijiao-01-north"]');
    await task.waitFor(wait);
    // The new task came with its sound (the page records when it played one) and a vibration.
    expect(await worker.locator('body').getAttribute('data-last-sound')).toMatch(/^\d+$/);
    expect(
      await worker.evaluate(
        () => (globalThis as unknown as { recordedVibrations: unknown[] }).recordedVibrations,
      ),
    ).toEqual([[200, 100, 200]]);
    await task.locator('[data-action="accept"]').click();
    await expect.poll(() => task.getAttribute('data-state'), wait).toBe('accepted');
    await task.locator('[data-action="arrive"]').click();
    await expect.poll(() => task.getAttribute('data-state'), wait).toBe('on_site');
    await task.locator('textarea').fill('门已关好，无人员进入 door closed, nobody entered');
    await task.locator('[data-action="resolve"]').click();
    // Resolved, it awaits verification on the worker's page too, with nothing left to do but add photos (#24).
    await expect.poll(() => task.getAttribute('data-state'), wait).toBe('resolved');
    expect(await task.locator('[data-action]').count()).toBe(0);

    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('resolved');
    await expect.poll(() => alarm.getAttribute('data-state'), wait).toBe('resolved');
    await expect.poll(() => officer.locator('#incident').textContent(), wait).toContain('door closed');
    // Acknowledged (and now resolved), it no longer colours its grid.
    expect(await officer.locator('#map path[data-grid="grid-xijiao-01"]').getAttribute('data-open')).toBe(
      'false',
    );
    // The assessment follows: the resolved case counts in this month's figures.
    await expect
      .poll(
        async () => Number(await officer.locator('#assessment-table').getAttribute('data-incidents')),
        wait,
      )
      .toBeGreaterThan(0);

    // The officer closes the resolved case (verified by someone other than its handler).
    const entries = await officer.locator('#timeline li').count();
    await officer.locator('#incident [data-action="verify"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('closed');
    await expect.poll(() => officer.locator('#timeline li').count(), wait).toBe(entries + 1);
    expect(await officer.locator('#timeline li').last().getAttribute('data-action')).toBe('incident.verify');
    // Closed, it needs nobody any more: it leaves the work queue (the panel still shows it) and the worker's tasks.
    await expect.poll(() => alarm.count(), wait).toBe(0);
    await expect.poll(() => task.count(), wait).toBe(0);
  }, 60_000);

  it("never shows a worker another grid's task", async () => {
    const { page: other } = await openPage('worker', 'demo-worker-xijiao-02');
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    await (await gate('gate-xijiao-02-east')).forceDoor();
    await (await gate('gate-xijiao-01-north')).holdDoor();
    // The officer sees both; by then the grid 2 worker has had every push meant for them.
    await officer
      .locator('#feed li[data-device="gate-xijiao-01-north"][data-state="dispatched"]')
      .first()
      .waitFor(wait);
    await officer.locator('#feed li[data-device="gate-xijiao-02-east"]').first().waitFor(wait);
    const own = other.locator('#tasks li[data-device="gate-xijiao-02-east"]');
    const dispatched = await incidentOf('gate-xijiao-02-east');
    if (dispatched.state === 'new') {
      await officer.locator('#feed li[data-device="gate-xijiao-02-east"]').first().click();
      await officer.locator('#assignee').selectOption('worker-xijiao-02');
      await officer.locator('#incident [data-action="dispatch"]').click();
    }
    await own.waitFor(wait);
    const devices = await other
      .locator('#tasks li[data-id]')
      .evaluateAll((items) =>
        items.map((item) => (item as unknown as { dataset: Record<string, string> }).dataset.device),
      );
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.every((device) => device?.startsWith('gate-xijiao-02-'))).toBe(true);
    await other.reload();
    await expect.poll(() => status(other), wait).toBe('live');
    await own.waitFor(wait);
    expect(await other.locator('#tasks li[data-device^="gate-xijiao-01-"]').count()).toBe(0);
  }, 60_000);

  it('shows a worker the task that arrived while their phone was offline', async () => {
    const { page: worker, context } = await openPage('worker', 'demo-worker-xijiao-03');
    const { page: officer, context: officerContext } = await openPage('officer', 'demo-officer-xijiao');
    await worker.locator('#tasks li.empty').waitFor(wait);
    await context.setOffline(true);
    await officerContext.setOffline(true);
    await expect.poll(() => status(worker), wait).toBe('offline');
    await expect.poll(() => status(officer), wait).toBe('offline');
    await (await gate('gate-xijiao-03-east')).forceDoor();
    const incident = await incidentOf('gate-xijiao-03-east');
    expect(await worker.locator(`#tasks li[data-id="${incident.id}"]`).count()).toBe(0);
    expect(await officer.locator(`#feed li[data-id="${incident.id}"]`).count()).toBe(0);
    await context.setOffline(false);
    await officerContext.setOffline(false);
    await expect.poll(() => status(worker), wait).toBe('live');
    // Back online, both pages show the server's state: the case that came in meanwhile is there.
    await officer.locator(`#feed li[data-id="${incident.id}"]`).waitFor(wait);
    await worker.locator(`#tasks li[data-id="${incident.id}"]`).waitFor(wait);
    await expect
      .poll(() => worker.locator('#banner').textContent(), wait)
      .toMatch(/^离线期间收到 \d+ 个新任务$/);
    if (updateScreenshots) await worker.screenshot({ path: path.join(screenshots, 'worker-view.png') });
  }, 60_000);

  it('keeps an alarm pushed while the page reloads, though the list it reloads was read before the alarm', async () => {
    const { page: officer, context } = await openPage('officer', 'demo-officer-xijiao');
    const counter = async () => Number(await officer.locator('#unacked').textContent());
    const before = await counter();
    // The open incidents the page reloads on its next connection are read from the server at once but answered
    // late: an alarm comes in between, pushed to the page (the hub pushes it before its store has it).
    let read = false;
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await officer.route(/\/api\/incidents\?limit=500&state=/, async (route) => {
      const response = await route.fetch();
      read = true;
      await answered;
      await route.fulfill({ response });
    });
    await context.setOffline(true);
    await expect.poll(() => status(officer), wait).toBe('offline');
    await context.setOffline(false);
    await eventually(() => read, 10_000);
    // Not a forced door: forced doors of one grid within two minutes join one incident (perimeter-breach).
    await (await gate('gate-xijiao-04-west')).blacklisted();
    const incident = await incidentOf('gate-xijiao-04-west');
    // Pushed to the page while its list is held: counted at once, while the page is still syncing.
    await expect.poll(counter, wait).toBe(before + 1);
    expect(await status(officer)).toBe('syncing');
    expect(await officer.locator('#status').textContent()).toBe('同步中…');
    answer();
    await expect.poll(() => status(officer), wait).toBe('live');
    // The list read before the alarm did not take it away.
    expect(await counter()).toBe(before + 1);
    await officer.locator(`#feed li[data-id="${incident.id}"]`).waitFor(wait);
    await officer.unroute(/\/api\/incidents\?limit=500&state=/);
  }, 60_000);

  it('keeps an alarm pushed while a filter change reloads the feed from a list read before it', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const filtered = /\/api\/incidents\?limit=100&.*severity=info/;
    let read = false;
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await officer.route(filtered, async (route) => {
      const response = await route.fetch();
      read = true;
      await answered;
      await route.fulfill({ response });
    });
    // A major alarm in the unfiltered feed: its going shows the filtered list has been drawn.
    await (await gate('gate-xijiao-01-south')).blacklisted();
    await expect
      .poll(() => officer.locator('#feed li[data-severity="major"]').count(), wait)
      .toBeGreaterThan(0);
    await officer.locator('select[name="severity"]').selectOption('info');
    await eventually(() => read, 10_000);
    await (await gate('gate-xijiao-03-north')).deny();
    const incident = await incidentOf('gate-xijiao-03-north');
    const item = officer.locator(`#feed li[data-id="${incident.id}"]`);
    // Pushed while the filtered list is held, and shown at once.
    await item.waitFor(wait);
    answer();
    // The list read before the alarm did not take it away.
    await expect.poll(() => officer.locator('#feed li[data-severity="major"]').count(), wait).toBe(0);
    expect(await item.count()).toBe(1);
    await officer.unroute(filtered);
    await officer.locator('select[name="severity"]').selectOption('');
  }, 60_000);

  it("shows the server's reason, translated, when it refuses an action the page offered, and the server's state after it", async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const incident = await incidentOf('gate-xijiao-03-east');
    // The page offers what the server offered when the panel was drawn; the server decides when the button is
    // pressed. An offer gone stale (here: as if the case had been resolved) is refused with the server's reason.
    await officer.route(`**/api/incidents/${incident.id}/actions`, (route) =>
      route.fulfill({ json: { actions: ['verify', 'note'] } }),
    );
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe(incident.state);
    await officer.locator('#incident [data-action="verify"]').click();
    const shown = officer.locator('#action-error');
    await expect.poll(() => shown.textContent(), wait).toMatch(/^核查结案未成功：.+/);
    // The same request straight to the API: the page shows the refusal's code in words.
    const response = await fetch(`${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/verify`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(409);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('illegal_transition');
    expect(await shown.textContent()).toBe('核查结案未成功：当前状态不允许此操作');
    expect(await officer.locator('#incident-state').getAttribute('data-state')).toBe(incident.state);

    // In English, the server's own sentence.
    await officer.locator('#language').selectOption('en');
    await expect.poll(() => status(officer), wait).toBe('live');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    await officer.locator('#incident [data-action="verify"]').click();
    await expect.poll(() => shown.textContent(), wait).toBe(`Verify and close refused: ${error.message}`);
    await officer.locator('#language').selectOption('zh-CN');
    await expect.poll(() => status(officer), wait).toBe('live');
    await officer.unroute(`**/api/incidents/${incident.id}/actions`);
  }, 60_000);

  it('speaks Chinese by default and English on request, with names, local 24-hour times and countdowns', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    await (await gate('gate-xijiao-05-north')).blacklisted();
    const incident = await incidentOf('gate-xijiao-05-north');
    const item = officer.locator(`#feed li[data-id="${incident.id}"]`);
    await item.waitFor(wait);
    expect(await officer.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await officer.locator('header h1').textContent()).toBe('gridhub · 值班指挥台');
    expect(await officer.locator('#who').textContent()).toBe('刘洋 Liu Yang · 值班员');
    // The title by its event type, the severity and the state in words.
    expect(await item.locator('strong').textContent()).toBe('黑名单卡或车牌');
    expect(await item.locator('.sev').textContent()).toBe('重要');
    // The router may have dispatched it to the grid's worker on duty already.
    expect(await item.locator('.badge.state').textContent()).toBe(
      ({ new: '新告警', dispatched: '已派遣' } as Record<string, string>)[incident.state],
    );
    // The time in the hub's zone (Asia/Shanghai), 24-hour, whatever zone the machine running the test is in.
    const shanghai = new Date(Date.parse(incident.createdAt) + 8 * 3_600_000).toISOString();
    expect(await item.locator('.meta').textContent()).toContain(
      `${shanghai.slice(0, 10)} ${shanghai.slice(11, 19)}`,
    );
    // The deadline counts down, each second, without a push.
    const due = item.locator('.due');
    expect(await due.getAttribute('data-due-stage')).toBe(incident.dueStage);
    const first = await due.textContent();
    expect(first).toMatch(/^(接单|派遣|到场|处置)剩余 (\d+分\d\d秒|\d+秒|\d+小时\d\d分)$/);
    await expect.poll(() => due.textContent(), wait).not.toBe(first);
    // Only the categories the rules raise are offered by the filter (no "fire": no rule raises it).
    const categories = await officer
      .locator('select[name="category"] option')
      .evaluateAll((options) => options.map((option) => option.getAttribute('value')));
    expect(categories).toContain('intrusion');
    expect(categories).toContain('access_violation');
    expect(categories).not.toContain('fire');

    await officer.locator('#language').selectOption('en');
    await expect.poll(() => status(officer), wait).toBe('live');
    expect(await officer.locator('html').getAttribute('lang')).toBe('en');
    expect(await officer.locator('header h1').textContent()).toBe('gridhub · Duty officer console');
    await item.waitFor(wait);
    expect(await item.locator('strong').textContent()).toBe('Blacklisted card or plate');
    expect(await item.locator('.badge.state').textContent()).toBe(incident.state);
    expect(await item.locator('.due').textContent()).toMatch(/left$/);
    await officer.locator('#language').selectOption('zh-CN');
    await expect.poll(() => status(officer), wait).toBe('live');
    expect(await officer.locator('header h1').textContent()).toBe('gridhub · 值班指挥台');
  }, 60_000);

  it('keeps info-level events out of the queue and the counter, in a view of their own, and shows cases to verify apart', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const count = async (view: string) =>
      Number(await officer.locator(`.views [data-view="${view}"] .count`).textContent());
    const counter = async () => Number(await officer.locator('#unacked').textContent());
    await expect.poll(() => count('queue'), wait).toBeGreaterThan(0);
    const before = { info: await count('info'), unacked: await counter(), verify: await count('verify') };

    await (await gate('gate-xijiao-01-north')).deny();
    let denied: Incident | undefined;
    await eventually(async () => {
      const { body } = await getJson(
        `${suite.hub.httpUrl}/api/incidents?limit=50&severity=info`,
        'demo-officer-xijiao',
      );
      denied = (body as { incidents: Incident[] }).incidents.find(
        (incident) => incident.device.id === 'gate-xijiao-01-north' && incident.state !== 'closed',
      );
      return denied !== undefined;
    });
    const id = (denied as Incident).id;
    // Counted in its own view, not in the queue, not as an unacknowledged alarm.
    await expect.poll(() => count('info'), wait).toBe(before.info + 1);
    expect(await counter()).toBe(before.unacked);
    expect(await officer.locator(`#feed li[data-id="${id}"]`).count()).toBe(0);
    await officer.locator('.views [data-view="info"]').click();
    await officer.locator(`#feed li[data-id="${id}"]`).waitFor(wait);
    expect(await feedValues(officer, 'data-severity')).toEqual(expect.arrayContaining(['info']));
    expect(new Set(await feedValues(officer, 'data-severity'))).toEqual(new Set(['info']));

    // Resolved by the worker, it waits in the officer's "to verify" view.
    await postJson(`${suite.hub.httpUrl}/api/incidents/${id}/actions/dispatch`, 'demo-officer-xijiao', {
      assignees: ['worker-xijiao-01'],
    });
    await postJson(`${suite.hub.httpUrl}/api/incidents/${id}/actions/accept`, 'demo-worker-xijiao-01');
    const resolved = await postJson(
      `${suite.hub.httpUrl}/api/incidents/${id}/actions/resolve`,
      'demo-worker-xijiao-01',
      {
        note: '住户卡已过期，已告知物业',
      },
    );
    expect(resolved.status).toBe(200);
    await expect.poll(() => count('verify'), wait).toBe(before.verify + 1);
    await officer.locator('.views [data-view="verify"]').click();
    await officer.locator(`#feed li[data-id="${id}"]`).waitFor(wait);
    expect(new Set(await feedValues(officer, 'data-state'))).toEqual(new Set(['resolved']));
    await officer.locator('.views [data-view="queue"]').click();
  }, 60_000);

  it('calls for attention: a sound per severity repeated until acknowledged, mute, a line for screen readers, a desktop notification in the background, the keyboard', async () => {
    const { page: officer, context } = await openPage('officer', 'demo-officer-xijiao');
    await context.grantPermissions(['notifications']);
    // The page in the background, and the notifications it shows recorded (headless Chromium shows none).
    await officer.evaluate(() => {
      const page = globalThis as unknown as Record<string, unknown> & { document: object };
      Object.defineProperty(page.document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      const shown: { title: string; tag?: string }[] = [];
      page.shownNotifications = shown;
      class Recorded {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        onclick: unknown = null;
        constructor(title: string, options: { tag?: string }) {
          shown.push({ title, tag: options.tag });
        }
      }
      page.Notification = Recorded;
    });
    const body = officer.locator('body');
    // A blacklisted card: every grid here has had a forced door in the last two minutes, which a new one would join.
    await (await gate('gate-xijiao-02-west')).blacklisted();
    const incident = await incidentOf('gate-xijiao-02-west');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).waitFor(wait);
    expect(await body.getAttribute('data-last-sound-severity')).toBe('major');
    await expect
      .poll(() => officer.locator('#announce').textContent(), wait)
      .toMatch(/^新告警：黑名单卡或车牌，重要，西郊第2网格/);
    const shown = () =>
      officer.evaluate(
        () => (globalThis as unknown as { shownNotifications: { tag?: string }[] }).shownNotifications,
      );
    expect((await shown()).map((notice) => notice.tag)).toContain(incident.id);
    // Unacknowledged, it sounds again within the reminder's period.
    const first = await body.getAttribute('data-last-sound');
    await expect.poll(() => body.getAttribute('data-last-sound'), { timeout: 12_000 }).not.toBe(first);
    // Muted, it does not; the choice stays for the next visit.
    await officer.locator('#mute').click();
    expect(await body.getAttribute('data-muted')).toBe('true');
    const silent = await body.getAttribute('data-last-sound');
    await officer.waitForTimeout(9_000);
    expect(await body.getAttribute('data-last-sound')).toBe(silent);
    await officer.locator('#mute').click();
    expect(await body.getAttribute('data-muted')).toBe('false');

    // The keyboard: focus the list, move to the alarm, open it, acknowledge it.
    await officer.locator('#feed li').first().focus();
    const ids = await feedValues(officer, 'data-id');
    for (let index = 0; index < ids.indexOf(incident.id); index++) await officer.keyboard.press('ArrowDown');
    expect(
      await officer.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { dataset: { id: string } } } }).document
            .activeElement.dataset.id,
      ),
    ).toBe(incident.id);
    await officer.keyboard.press('Enter');
    await expect.poll(() => officer.locator('#incident').getAttribute('data-id'), wait).toBe(incident.id);
    await officer.locator('#feed').focus();
    await officer.keyboard.press('a');
    await expect
      .poll(
        () => officer.locator(`#feed li[data-id="${incident.id}"]`).getAttribute('data-acknowledged'),
        wait,
      )
      .toBe('true');
  }, 60_000);

  it('fits a 1366×768 laptop, a tablet on its side and upright, and a command-centre wall', async () => {
    /** What does not fit: the page scrolling sideways, or a main part narrower than usable or past the right edge. */
    const misfits = (page: Page) =>
      page.evaluate(() => {
        const view = globalThis as unknown as {
          innerWidth: number;
          document: {
            documentElement: { scrollWidth: number };
            querySelector(
              selector: string,
            ): { getBoundingClientRect(): { width: number; right: number } } | null;
          };
        };
        const problems: string[] = [];
        if (view.document.documentElement.scrollWidth > view.innerWidth) problems.push('scrolls sideways');
        for (const selector of ['#feed', '#incident', '#map', '.views']) {
          const box = view.document.querySelector(selector)?.getBoundingClientRect();
          if (box === undefined) problems.push(`${selector} missing`);
          else if (box.width < 280 || box.right > view.innerWidth + 1)
            problems.push(`${selector} ${box.width}`);
        }
        return problems;
      });
    for (const viewport of [
      { width: 1366, height: 768 },
      { width: 1920, height: 1080 },
      { width: 1024, height: 768 },
      { width: 768, height: 1024 },
    ]) {
      const { page } = await openPage('officer', 'demo-officer-xijiao', viewport);
      await expect.poll(() => page.locator('#map path[data-grid]').count(), wait).toBeGreaterThan(0);
      expect({ viewport, problems: await misfits(page) }).toEqual({ viewport, problems: [] });
      await page.context().close();
    }

    // The wall: the map takes most of the screen, the queue beside it, the panel and the assessment aside.
    const { page: wall } = await openPage('officer', 'demo-officer-xijiao', { width: 1920, height: 1080 });
    await wall.locator('#wall').click();
    expect(await wall.locator('body').getAttribute('class')).toContain('wall');
    expect(new URL(wall.url()).searchParams.get('wall')).toBe('1');
    await expect
      .poll(async () => (await wall.locator('#map').boundingBox())?.height ?? 0, wait)
      .toBeGreaterThan(800);
    expect((await wall.locator('#map').boundingBox())?.width ?? 0).toBeGreaterThan(1000);
    expect(await wall.locator('#incident').isVisible()).toBe(false);
    expect(await wall.locator('#assessment').isVisible()).toBe(false);
    expect(await wall.locator('.views').isVisible()).toBe(true);
    if (updateScreenshots) await wall.screenshot({ path: path.join(screenshots, 'officer-wall.png') });
    // Opened from its bookmark, it is a wall again.
    await wall.reload();
    await expect.poll(() => wall.locator('body').getAttribute('class'), wait).toContain('wall');
  }, 90_000);

  it('serves a favicon', async () => {
    const answer = await fetch(`${suite.hub.httpUrl}/favicon.ico`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('image/svg+xml');
    expect(await answer.text()).toMatch(/^<svg /);
  });

  it('filters the feed by severity and grid, from the server', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    await expect.poll(() => officer.locator('#feed li').count(), wait).toBeGreaterThan(2);
    await officer.locator('select[name="severity"]').selectOption('warning');
    await expect.poll(() => feedValues(officer, 'data-severity'), wait).toEqual(['warning']);
    await officer.locator('select[name="severity"]').selectOption('');
    await officer.locator('select[name="node"]').selectOption('grid-xijiao-02');
    // Grid 2's gates alone, its east gate's alarm among them (another test may have raised at its west gate).
    await expect
      .poll(async () => {
        const devices = (await feedValues(officer, 'data-device')).map((device) => device ?? '');
        return (
          devices.includes('gate-xijiao-02-east') &&
          devices.every((device) => device.startsWith('gate-xijiao-02-'))
        );
      }, wait)
      .toBe(true);
  }, 60_000);

  it('counts an alarm acknowledged by a colleague of the same centre as acknowledged, live, over REST and Socket.IO alike', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const { page: colleague } = await openPage('officer', colleagueToken);
    const counter = async (page: Page) => Number(await page.locator('#unacked').textContent());
    const before = await counter(colleague);

    await (await gate('gate-xijiao-04-south')).forceDoor();
    const incident = await incidentOf('gate-xijiao-04-south');
    const item = (page: Page) => page.locator(`#feed li[data-id="${incident.id}"]`);
    await item(colleague).waitFor(wait);
    await expect.poll(() => counter(colleague), wait).toBe(before + 1);
    expect(await item(colleague).getAttribute('data-acknowledged')).toBe('false');

    await item(officer).click();
    await officer.locator('#incident [data-action="acknowledge"]').click();
    // The colleague did nothing: their counter drops and the alarm shows acknowledged, from the server's push.
    await expect.poll(() => counter(colleague), wait).toBe(before);
    await expect.poll(() => item(colleague).getAttribute('data-acknowledged'), wait).toBe('true');
    await item(colleague).click();
    const button = colleague.locator('#incident [data-action="acknowledge"]');
    await expect.poll(() => button.isDisabled(), wait).toBe(true);
    expect(await colleague.locator('#acknowledged').textContent()).toContain('西郊社区');
    expect(await colleague.locator('#acknowledged').textContent()).toContain('刘洋 Liu Yang');
    expect(
      await colleague.locator('#timeline li[data-action="incident.acknowledge"]').textContent(),
    ).toContain('刘洋 Liu Yang · 确认');
    // The same centre acknowledging again is refused with who did it first, and the refusal is audited.
    const again = await postJson<{ error: { message: string } }>(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/acknowledge`,
      colleagueToken,
    );
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/has already acknowledged this incident \(officer-xijiao at /);
    const { body } = await getJson(`${suite.hub.httpUrl}/api/incidents/${incident.id}/audit`, colleagueToken);
    expect(
      (body as { entries: { action: string; outcome: string }[] }).entries
        .filter((entry) => entry.action === 'incident.acknowledge')
        .map((entry) => entry.outcome),
    ).toEqual(['ok', 'refused']);
    // The state did not change.
    expect((await incidentOf('gate-xijiao-04-south')).state).toBe(incident.state);

    // Another centre (the street above) acknowledges for itself, over Socket.IO's incident:act.
    const street = await connectClient(suite.hub.httpUrl, 'demo-officer-liushuwan');
    try {
      const answer = await street.socket.emitWithAck('incident:act', {
        incidentId: incident.id,
        action: 'acknowledge',
      });
      expect(answer).toMatchObject({
        ok: true,
        incident: {
          state: incident.state,
          acknowledgements: [
            { nodeId: 'community-xijiao', userId: 'officer-xijiao' },
            { nodeId: 'street-liushuwan', userId: 'officer-liushuwan' },
          ],
        },
      });
    } finally {
      street.close();
    }
    // The OpenAPI description names the action.
    const spec = (await getJson(`${suite.hub.httpUrl}/docs/json`)).body as {
      paths: Record<string, { post?: { parameters?: { name: string; schema?: { enum?: string[] } }[] } }>;
    };
    const actionParameter = spec.paths['/api/incidents/{id}/actions/{action}']?.post?.parameters?.find(
      (parameter) => parameter.name === 'action',
    );
    expect(actionParameter?.schema?.enum).toContain('acknowledge');
  }, 60_000);

  it("escalates, adds a note and marks a false alarm, showing the server's state and a longer timeline each time", async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    await (await gate('gate-xijiao-05-west')).forceDoor();
    const incident = await incidentOf('gate-xijiao-05-west');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe(incident.state);
    const timeline = officer.locator('#timeline li');
    let entries = await timeline.count();
    expect(entries).toBeGreaterThan(0);

    await officer.locator('#incident [data-action="escalate"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('escalated');
    await expect.poll(() => officer.locator('#responsible').getAttribute('data-escalations'), wait).toBe('1');
    // Escalated from the community to the street: the level it went to, and the next one up, by name.
    expect(await officer.locator('#responsible').textContent()).toBe(
      '西郊社区 Xijiao Community（已上报 1 次，下一级：柳树湾街道 Liushuwan Street）',
    );
    await expect.poll(() => timeline.count(), wait).toBe(entries + 1);
    expect(await timeline.last().getAttribute('data-action')).toBe('incident.escalate');
    entries += 1;

    await officer.locator('#note').fill('已联系物业查看 property office asked to check');
    await officer.locator('#incident [data-action="note"]').click();
    await expect.poll(() => timeline.count(), wait).toBe(entries + 1);
    expect(await timeline.last().textContent()).toContain('property office asked to check');
    expect(await officer.locator('#incident-state').getAttribute('data-state')).toBe('escalated');
    entries += 1;

    // Supervision (督办): an instruction recorded on the case, by name, in the timeline; the state stays.
    await officer.locator('#note').fill('请30分钟内反馈 report back within 30 minutes');
    await officer.locator('#incident [data-action="supervise"]').click();
    await expect.poll(() => officer.locator('#supervisions').textContent(), wait).toContain('请30分钟内反馈');
    expect(await officer.locator('#supervisions').textContent()).toContain('刘洋 Liu Yang');
    await expect.poll(() => timeline.count(), wait).toBe(entries + 1);
    expect(await timeline.last().getAttribute('data-action')).toBe('incident.supervise');
    expect(await officer.locator('#incident-state').getAttribute('data-state')).toBe('escalated');
    entries += 1;

    // A false alarm needs its reason: without one the page says so and sends nothing.
    await officer.locator('#incident [data-action="false_alarm"]').click();
    await expect
      .poll(() => officer.locator('#action-error').textContent(), wait)
      .toBe('误报未成功：误报需要填写原因');
    expect(await timeline.count()).toBe(entries);
    await officer.locator('#note').fill('住户忘带门卡 a resident without their card');
    await officer.locator('#incident [data-action="false_alarm"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('false_alarm');
    await expect.poll(() => timeline.count(), wait).toBe(entries + 1);
    // Ended, it leaves the work queue, and is there again when the state filter asks for false alarms.
    await expect.poll(() => officer.locator(`#feed li[data-id="${incident.id}"]`).count(), wait).toBe(0);
    await officer.locator('select[name="state"]').selectOption('false_alarm');
    await expect
      .poll(() => officer.locator(`#feed li[data-id="${incident.id}"]`).getAttribute('data-state'), wait)
      .toBe('false_alarm');
    await officer.locator('select[name="state"]').selectOption('');
    const server = await getJson(`${suite.hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao');
    expect(server.body).toMatchObject({ state: 'false_alarm', closedBy: 'officer-xijiao', escalations: 1 });

    // An ended case offers no more of the lifecycle: only a note (the server's list, GET …/actions).
    await expect
      .poll(
        () =>
          officer
            .locator('#incident button[data-action]')
            .evaluateAll((buttons) => buttons.map((button) => button.getAttribute('data-action'))),
        wait,
      )
      .toEqual(['note']);
  }, 60_000);

  it('shows the assessment of the chosen dates as a table and a chart', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const table = officer.locator('#assessment-table');
    const barWidths = () =>
      officer
        .locator('#assessment svg.chart rect.total')
        .evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('width'))));
    await expect
      .poll(async () => Number(await table.getAttribute('data-incidents')), wait)
      .toBeGreaterThan(0);
    expect((await barWidths()).some((width) => width > 0)).toBe(true);

    // A past month holds none of this run's cases: the table's totals and every bar drop to zero.
    await officer.locator('input[name="from"]').fill('2020-01-01');
    await officer.locator('input[name="to"]').fill('2020-02-01');
    await officer.getByRole('button', { name: '查询' }).click();
    await expect.poll(async () => Number(await table.getAttribute('data-incidents')), wait).toBe(0);
    expect(await table.locator('tbody tr').first().locator('td').nth(1).textContent()).toBe('0');
    expect((await barWidths()).every((width) => width === 0)).toBe(true);

    // Back to a range holding today: the figures and the chart come back, as the server counts them.
    const today = new Date();
    const day = (date: Date) => date.toISOString().slice(0, 10);
    await officer.locator('input[name="from"]').fill(day(new Date(today.getTime() - 86_400_000)));
    await officer.locator('input[name="to"]').fill(day(new Date(today.getTime() + 2 * 86_400_000)));
    await officer.getByRole('button', { name: '查询' }).click();
    await expect
      .poll(async () => Number(await table.getAttribute('data-incidents')), wait)
      .toBeGreaterThan(0);
    expect((await barWidths()).some((width) => width > 0)).toBe(true);
    // The table follows new cases by itself, without Show.
    const counted = Number(await table.getAttribute('data-incidents'));
    await (await gate('gate-xijiao-04-south')).blacklisted();
    await expect.poll(async () => Number(await table.getAttribute('data-incidents')), wait).toBe(counted + 1);
    // Per worker, by name: the first test's worker handled a case today.
    const worker = officer.locator('#assessment-workers tr[data-id="worker-xijiao-01"]');
    await worker.waitFor(wait);
    expect(await worker.locator('td').first().textContent()).toBe('赵磊 Zhao Lei');
    // The same figures as CSV, downloaded from the page.
    const [download] = await Promise.all([
      officer.waitForEvent('download'),
      officer.locator('#assessment-csv').click(),
    ]);
    const csv = await new Promise<string>((resolve, reject) => {
      download.createReadStream().then((stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        stream.on('error', reject);
      }, reject);
    });
    expect(download.suggestedFilename()).toMatch(/^assessment-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
    expect(csv).toContain('worker-xijiao-01');
    // With the byte order mark spreadsheet programs need to read the Chinese names as UTF-8.
    expect(csv.split('\r\n')[0]).toMatch(/^\uFEFFkind,id,name,/);
  }, 60_000);

  it("shows a camera incident's snapshot as a loaded image and its clip as a video the hub serves", async () => {
    while (suite.hub.testHandle.cameras.media(cameraId) === undefined)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const media = new Map<string, number>();
    officer.on('response', (response) => {
      const url = new URL(response.url());
      if (url.pathname.startsWith('/media/')) media.set(url.pathname, response.status());
    });
    await camera.intrusion(true);
    const incident = await incidentOf(cameraId);
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    const snapshot = officer.locator('#evidence img');
    const clip = officer.locator('#evidence video');
    // Evidence arrives after the incident (snapshot first, then the clip once recorded): the open panel follows.
    await clip.waitFor({ timeout: 30_000 });
    await expect
      .poll(
        () => snapshot.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth),
        wait,
      )
      .toBeGreaterThan(0);
    await expect
      .poll(
        () =>
          clip.evaluate((video) => {
            const element = video as unknown as { readyState: number; duration: number; videoWidth: number };
            return element.readyState >= 1 && element.duration > 0 && element.videoWidth > 0;
          }),
        wait,
      )
      .toBe(true);
    const snapshotUrl = await snapshot.getAttribute('data-source');
    const clipUrl = await clip.getAttribute('data-source');
    expect(snapshotUrl).toBe(`/media/${incident.id}/snapshot-${cameraId}.jpg`);
    expect(clipUrl).toMatch(new RegExp(`^/media/${incident.id}/clip-${cameraId}.*\\.mp4$`));
    expect([200, 206]).toContain(media.get(snapshotUrl as string));
    expect([200, 206]).toContain(media.get(clipUrl as string));
    // Acknowledged, the panel is redrawn from the server's answer and keeps showing the evidence: the same player,
    // not a new one that would start again (a colleague's action redraws the panel too).
    await clip.evaluate((video) => {
      (video as unknown as { dataset: Record<string, string> }).dataset.marked = 'before';
    });
    await officer.locator('#incident [data-action="acknowledge"]').click();
    await expect
      .poll(() => officer.locator('#incident button[data-action="acknowledge"]').isDisabled(), wait)
      .toBe(true);
    expect(await officer.locator('#evidence video').getAttribute('data-marked')).toBe('before');
    // Evidence says which camera it is from, by name.
    expect(await officer.locator('#evidence figcaption').first().textContent()).toContain(
      'Xijiao Grid 5 east camera',
    );
    // Live video of the alarm's camera, in the page with no plugin: the hub remuxes its RTSP into fragmented MP4.
    await officer.locator('#live [data-live="cam-xijiao-05-east"]').click();
    const live = officer.locator('#live video[data-camera="cam-xijiao-05-east"]');
    await live.waitFor(wait);
    await expect
      .poll(
        () =>
          live.evaluate((video) => {
            const element = video as unknown as {
              readyState: number;
              videoWidth: number;
              currentTime: number;
            };
            return element.readyState >= 2 && element.videoWidth > 0 && element.currentTime > 0;
          }),
        { timeout: 20_000 },
      )
      .toBe(true);
    expect(await officer.locator('#live figcaption').textContent()).toContain(
      'Xijiao Grid 5 east camera 实时',
    );
    await officer.locator('#live figcaption button').click();
    await expect.poll(() => officer.locator('#live video').count(), wait).toBe(0);
    await expect.poll(() => officer.locator('#acknowledged').textContent(), wait).toContain('刘洋 Liu Yang');
    await expect
      .poll(
        () => snapshot.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth),
        wait,
      )
      .toBeGreaterThan(0);
    expect(await officer.locator(`#feed li[data-id="${incident.id}"] .badge.acknowledged`).count()).toBe(1);
    // The console's screenshot: a busy feed, the map lit, and a camera case with its evidence in the panel.
    if (updateScreenshots)
      await officer.screenshot({ path: path.join(screenshots, 'officer-console.png'), fullPage: true });
  }, 60_000);

  it('maps every device and grid with no tiles: grids by their worst unacknowledged alarm, the selected device ringed, a click filtering the queue', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const map = officer.locator('#map');
    await expect.poll(() => map.locator('path[data-grid]').count(), wait).toBeGreaterThan(0);
    expect(await map.getAttribute('data-tiles')).toBe('none');
    expect(await map.locator('img.leaflet-tile').count()).toBe(0);
    // Every device the officer may see is on the map, those without a location of their own around their grid's centre.
    const { body } = await getJson(`${suite.hub.httpUrl}/api/devices`, 'demo-officer-xijiao');
    const devices = (body as { devices: { id: string; location: unknown }[] }).devices;
    expect(await map.locator('path[data-device]').count()).toBe(devices.length);
    expect(await map.locator('path[data-device="gate-xijiao-01-south"]').getAttribute('data-placed')).toBe(
      'own',
    );
    // Each by its kind, explained in the legend.
    expect(await map.locator('path[data-device="gate-xijiao-01-south"]').getAttribute('data-kind')).toBe(
      'gate',
    );
    expect(await map.locator('path[data-device="cam-xijiao-05-east"]').getAttribute('data-kind')).toBe(
      'camera',
    );
    expect(await map.locator('path[data-device="sentry-xijiao-01"]').getAttribute('data-kind')).toBe(
      'sentry',
    );
    expect(await officer.locator('#map-legend .key').allTextContents()).toEqual([
      '门禁',
      '岗亭/报警主机',
      '摄像机',
    ]);
    // Drawn where the configuration puts it (no tiles: no conversion).
    expect(await map.locator('path[data-device="gate-xijiao-01-south"]').getAttribute('data-latlng')).toBe(
      '39.930992,116.304342',
    );

    // A new alarm colours its grid by its severity until acknowledged; selected, its device is ringed.
    await (await gate('gate-xijiao-03-north')).blacklisted();
    const incident = await incidentOf('gate-xijiao-03-north');
    const grid = map.locator('path[data-grid="grid-xijiao-03"]');
    await expect.poll(() => grid.getAttribute('data-open'), wait).toBe('true');
    expect(['critical', 'major']).toContain(await grid.getAttribute('data-severity'));
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    await expect
      .poll(() => map.locator('path[data-device="gate-xijiao-03-north"]').getAttribute('data-selected'), wait)
      .toBe('true');
    expect(await map.locator('path[data-device="gate-xijiao-03-north"]').getAttribute('data-alarm')).toBe(
      'true',
    );

    // A click on the device keeps the queue to its alarms; again, and the filter goes.
    await map.locator('path[data-device="gate-xijiao-03-north"]').dispatchEvent('click');
    await expect.poll(() => officer.locator('#device-filter').isVisible(), wait).toBe(true);
    await expect
      .poll(async () => new Set(await feedValues(officer, 'data-device')), wait)
      .toEqual(new Set(['gate-xijiao-03-north']));
    await officer.locator('#device-filter').click();
    await expect.poll(() => officer.locator('#device-filter').isVisible(), wait).toBe(false);

    // A click on a grid filters the queue by it, from the server.
    await map.locator('path[data-grid="grid-xijiao-02"]').dispatchEvent('click');
    await expect.poll(() => officer.locator('select[name="node"]').inputValue(), wait).toBe('grid-xijiao-02');
    await expect
      .poll(
        () =>
          officer
            .locator('#feed li')
            .evaluateAll((items) =>
              items.every((item) => item.getAttribute('data-device')?.startsWith('gate-xijiao-02-')),
            ),
        wait,
      )
      .toBe(true);
    await officer.locator('select[name="node"]').selectOption('');
    // Zoomed in and reset: the whole jurisdiction in view again, drawn as it was.
    const drawn = await grid.getAttribute('d');
    await officer.locator('.leaflet-control-zoom-in').click();
    await expect.poll(() => grid.getAttribute('d'), wait).not.toBe(drawn);
    await officer.locator('#map-reset').click();
    await expect.poll(() => grid.getAttribute('d'), wait).toBe(drawn);
  }, 60_000);

  it('loads every asset from the hub itself: no outside network', () => {
    expect(requested).toContain(`${suite.hub.httpUrl}/socket.io/socket.io.js`);
    expect(requested).toContain(`${suite.hub.httpUrl}/dashboard/officer.js`);
    expect(requested).toContain(`${suite.hub.httpUrl}/dashboard/worker.js`);
    const outside = requested.filter(
      (url) =>
        !url.startsWith(`${suite.hub.httpUrl}/`) && !url.startsWith('blob:') && !url.startsWith('data:'),
    );
    expect(outside).toEqual([]);
  });
});
