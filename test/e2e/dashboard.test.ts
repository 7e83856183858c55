import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { Incident } from '../../src/core/incident.ts';
import { demoSecret, eventually, getJson, projectRoot, startTestHub, type TestHub } from '../helpers/hub.ts';

/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against a hub on
 * ephemeral ports fed by simulated gates. Screenshots are written only with UPDATE_SCREENSHOTS=1.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshots = path.join(projectRoot, 'docs', 'screenshots');
const updateScreenshots = process.env.UPDATE_SCREENSHOTS === '1';
const wait = { timeout: 15_000 };

describe('the officer console and the worker view in Chromium', () => {
  let hub: TestHub;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const gates = new Map<string, GateSimulator>();
  /** Every URL the pages asked for, to prove they need no outside network. */
  const requested: string[] = [];

  async function gate(deviceId: string): Promise<GateSimulator> {
    let sim = gates.get(deviceId);
    if (sim === undefined) {
      sim = new GateSimulator({ url: hub.mqttUrl, deviceId, secret: demoSecret(deviceId) });
      await sim.start();
      gates.set(deviceId, sim);
    }
    return sim;
  }

  async function openPage(
    kind: 'officer' | 'worker',
    token: string,
  ): Promise<{ page: Page; context: BrowserContext }> {
    const context = await browser.newContext(
      kind === 'officer'
        ? { viewport: { width: 1440, height: 900 } }
        : { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    );
    contexts.push(context);
    // Records the vibrations the page asks for (headless Chromium has no motor to feel them).
    await context.addInitScript(() => {
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
    });
    const page = await context.newPage();
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(`${hub.httpUrl}/${kind}`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: /Log in/ }).click();
    await expect.poll(() => page.locator('#status').textContent(), wait).toBe('live');
    return { page, context };
  }

  /** The newest incident of a device as the officer's API sees it, once there is one. */
  async function incidentOf(deviceId: string): Promise<Incident> {
    let found: Incident | undefined;
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=50`, 'demo-officer-xijiao');
      found = (body as { incidents: Incident[] }).incidents.find(
        (incident) => incident.device.id === deviceId,
      );
      return found !== undefined;
    }, 10_000);
    return found as Incident;
  }

  beforeAll(async () => {
    hub = await startTestHub();
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    if (updateScreenshots) mkdirSync(screenshots, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    for (const sim of gates.values()) await sim.stop();
    await hub?.stop();
  });

  it('shows a forced gate on the feed; the officer dispatches it, the worker accepts and resolves it, the officer sees it resolved', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const { page: worker } = await openPage('worker', 'demo-worker-xijiao-01');
    await expect.poll(() => officer.locator('#map polygon').count(), wait).toBeGreaterThan(0);
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
      .poll(() => officer.locator('#map polygon[data-grid="grid-xijiao-01"]').getAttribute('data-open'), wait)
      .toBe('true');

    await alarm.click();
    await officer.locator('#incident [data-action="acknowledge"]').click();
    await expect.poll(async () => Number(await officer.locator('#unacked').textContent()), wait).toBe(before);
    await officer.locator('#assignee').selectOption('worker-xijiao-01');
    await officer.locator('#incident [data-action="dispatch"]').click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('dispatched');
    await expect.poll(() => officer.locator('#assignees').textContent(), wait).toBe('worker-xijiao-01');
    await expect.poll(() => officer.locator('#timeline').textContent(), wait).toContain('dispatch');

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
    await task.getByLabel('note').fill('门已关好，无人员进入 door closed, nobody entered');
    await task.locator('[data-action="resolve"]').click();
    await expect.poll(() => task.count(), wait).toBe(0);

    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe('resolved');
    await expect.poll(() => alarm.getAttribute('data-state'), wait).toBe('resolved');
    await expect.poll(() => officer.locator('#incident').textContent(), wait).toContain('door closed');
    await expect
      .poll(() => officer.locator('#map polygon[data-grid="grid-xijiao-01"]').getAttribute('data-open'), wait)
      .toBe('false');
    // The assessment follows: the resolved case counts in this month's figures.
    await expect
      .poll(
        async () => Number(await officer.locator('#assessment-table').getAttribute('data-incidents')),
        wait,
      )
      .toBeGreaterThan(0);
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
    await expect.poll(() => other.locator('#status').textContent(), wait).toBe('live');
    await own.waitFor(wait);
    expect(await other.locator('#tasks li[data-device^="gate-xijiao-01-"]').count()).toBe(0);
  }, 60_000);

  it('shows a worker the task that arrived while their phone was offline', async () => {
    const { page: worker, context } = await openPage('worker', 'demo-worker-xijiao-03');
    const { page: officer, context: officerContext } = await openPage('officer', 'demo-officer-xijiao');
    await worker.locator('#tasks li.empty').waitFor(wait);
    await context.setOffline(true);
    await officerContext.setOffline(true);
    await expect.poll(() => worker.locator('#status').textContent(), wait).toMatch(/^offline/);
    await expect.poll(() => officer.locator('#status').textContent(), wait).toMatch(/^offline/);
    await (await gate('gate-xijiao-03-east')).forceDoor();
    const incident = await incidentOf('gate-xijiao-03-east');
    expect(await worker.locator(`#tasks li[data-id="${incident.id}"]`).count()).toBe(0);
    expect(await officer.locator(`#feed li[data-id="${incident.id}"]`).count()).toBe(0);
    await context.setOffline(false);
    await officerContext.setOffline(false);
    await expect.poll(() => worker.locator('#status').textContent(), wait).toBe('live');
    // Back online, both pages show the server's state: the case that came in meanwhile is there.
    await officer.locator(`#feed li[data-id="${incident.id}"]`).waitFor(wait);
    await worker.locator(`#tasks li[data-id="${incident.id}"]`).waitFor(wait);
    await expect
      .poll(() => worker.locator('#banner').textContent(), wait)
      .toContain('while you were offline');
    if (updateScreenshots) await worker.screenshot({ path: path.join(screenshots, 'worker-view.png') });
  }, 60_000);

  it("shows the server's reason when it refuses an action, and the server's state after it", async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    const incident = await incidentOf('gate-xijiao-03-east');
    await officer.locator(`#feed li[data-id="${incident.id}"]`).click();
    await expect
      .poll(() => officer.locator('#incident-state').getAttribute('data-state'), wait)
      .toBe(incident.state);
    await officer.locator('#incident [data-action="verify"]').click();
    const shown = officer.locator('#action-error');
    await expect.poll(() => shown.textContent(), wait).toMatch(/^verify refused: .+/);
    // The same request straight to the API: the page shows exactly the server's own reason.
    const response = await fetch(`${hub.httpUrl}/api/incidents/${incident.id}/actions/verify`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-officer-xijiao', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(409);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(await shown.textContent()).toBe(`verify refused: ${error.message}`);
    expect(await officer.locator('#incident-state').getAttribute('data-state')).toBe(incident.state);
    if (updateScreenshots)
      await officer.screenshot({ path: path.join(screenshots, 'officer-console.png'), fullPage: true });
  }, 60_000);

  it('filters the feed by severity and grid, from the server', async () => {
    const { page: officer } = await openPage('officer', 'demo-officer-xijiao');
    await expect.poll(() => officer.locator('#feed li').count(), wait).toBeGreaterThan(2);
    await officer.getByLabel('severity').selectOption('warning');
    await expect
      .poll(
        () =>
          officer
            .locator('#feed li')
            .evaluateAll((items) => items.map((item) => item.getAttribute('data-severity'))),
        wait,
      )
      .toEqual(['warning']);
    await officer.getByLabel('severity').selectOption('');
    await officer.getByLabel('node').selectOption('grid-xijiao-02');
    await expect
      .poll(
        () =>
          officer
            .locator('#feed li')
            .evaluateAll((items) => items.map((item) => item.getAttribute('data-device'))),
        wait,
      )
      .toEqual(['gate-xijiao-02-east']);
  }, 60_000);

  it('loads every asset from the hub itself: no outside network', () => {
    expect(requested).toContain(`${hub.httpUrl}/socket.io/socket.io.js`);
    expect(requested).toContain(`${hub.httpUrl}/dashboard/officer.js`);
    expect(requested).toContain(`${hub.httpUrl}/dashboard/worker.js`);
    const outside = requested.filter(
      (url) => !url.startsWith(`${hub.httpUrl}/`) && !url.startsWith('blob:') && !url.startsWith('data:'),
    );
    expect(outside).toEqual([]);
  });
});
