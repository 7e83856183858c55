import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { AuditEntry } from '../../src/core/audit.ts';
import type { Incident } from '../../src/core/incident.ts';
import { demoGate, findIncident, getJson, postJson, startQuietDemoHub } from '../helpers/hub.ts';
import { chromiumHub, local, screens, status, wait } from '../helpers/pages.ts';

const officerToken = 'demo-officer-xijiao';

/** A PNG's width and height, from its IHDR chunk. */
function pngSize(bytes: Uint8Array): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect([...bytes.subarray(1, 4)].map((code) => String.fromCharCode(code)).join('')).toBe('PNG');
  return [view.getUint32(16), view.getUint32(20)];
}

describe("the grid worker's installable app: offline tasks, the action queue, a remembered phone", () => {
  // Demo devices that never report here must not raise incidents of their own while the page is driven.
  const suite = chromiumHub(startQuietDemoHub, {
    keepPages: true,
  });
  let context: BrowserContext;
  let page: Page;
  const gates: GateSimulator[] = [];

  async function gate(deviceId: string): Promise<GateSimulator> {
    const sim = demoGate(suite.hub.mqttUrl, deviceId);
    await sim.start();
    gates.push(sim);
    return sim;
  }

  /** The open incident of a device, once the officer's API has it. */
  const incidentOf = (deviceId: string, category: string) =>
    findIncident(
      suite.hub.httpUrl,
      (incident) => incident.device.id === deviceId && incident.category === category,
      { timeoutMs: wait.timeout },
    );

  const stateOf = async (id: string) =>
    ((await getJson(`${suite.hub.httpUrl}/api/incidents/${id}`, officerToken)).body as Incident).state;
  const cardOf = (on: Page, id: string) => on.locator(`#tasks li[data-id="${id}"]`);

  beforeAll(async () => {
    // One phone for the whole file, not TestPages' context a page: its service worker, its remembered login and
    // its offline switch carry from test to test, and the first login checks the form's 记住此手机 on the way.
    context = await suite.browser.newContext({ ...screens.worker, ...local });
  });

  afterAll(async () => {
    await context?.close();
    for (const sim of gates) await sim.stop();
  });

  it('serves its manifest with its type, and icons of the sizes it declares', async () => {
    const response = await fetch(`${suite.hub.httpUrl}/dashboard/manifest.webmanifest`);
    expect(response.headers.get('content-type')).toBe('application/manifest+json');
    const manifest = (await response.json()) as {
      start_url: string;
      scope: string;
      display: string;
      lang: string;
      icons: { src: string; sizes: string; type: string; purpose: string }[];
    };
    expect(manifest).toMatchObject({
      start_url: '/dashboard/worker.html',
      scope: '/dashboard/',
      display: 'standalone',
      lang: 'zh-CN',
    });
    const pngs = manifest.icons.filter((icon) => icon.type === 'image/png');
    expect(pngs.map((icon) => icon.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
    expect(pngs.some((icon) => icon.purpose === 'maskable')).toBe(true);
    for (const icon of pngs) {
      const png = await fetch(`${suite.hub.httpUrl}${icon.src}`);
      expect(png.headers.get('content-type')).toBe('image/png');
      const [width, height] = pngSize(new Uint8Array(await png.arrayBuffer()));
      expect(`${width}x${height}`).toBe(icon.sizes);
    }
    // The page links it, and the policy lets the page register its worker and read its manifest.
    const html = await fetch(`${suite.hub.httpUrl}/dashboard/worker.html`);
    expect(await html.text()).toContain('<link rel="manifest" href="/dashboard/manifest.webmanifest">');
    const policy = html.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("worker-src 'self'");
    expect(policy).toContain("manifest-src 'self'");
  });

  it('installs, shows the cached tasks offline, queues an accept as 待发送 and replays it once online', async () => {
    page = await context.newPage();
    await page.goto(`${suite.hub.httpUrl}/worker`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/worker.html');
    await page.getByLabel('用户名').fill('worker-xijiao-01');
    await page.getByLabel('密码').fill('demo-password-worker-xijiao-01');
    expect(await page.getByLabel('记住此手机').isChecked()).toBe(true);
    await page.getByRole('button', { name: '登录' }).click();
    await expect.poll(() => status(page), wait).toBe('live');
    // The service worker is installed, active, and controls the page.
    await expect
      .poll(
        () =>
          page.evaluate(async () => {
            // The test's TypeScript has no DOM library: the browser's service worker container, as far as read here.
            const container = (
              globalThis as unknown as {
                navigator: {
                  serviceWorker: {
                    controller: unknown;
                    getRegistration(scope: string): Promise<{ active?: { state: string } } | undefined>;
                  };
                };
              }
            ).navigator.serviceWorker;
            const registration = await container.getRegistration('/dashboard/');
            return `${registration?.active?.state}:${container.controller !== null}`;
          }),
        wait,
      )
      .toBe('activated:true');

    // The shell is precached under its versioned name; nothing of the API is (the tasks live in IndexedDB).
    const cached = await page.evaluate(async () => {
      const storage = (
        globalThis as unknown as {
          caches: {
            keys(): Promise<string[]>;
            open(name: string): Promise<{ keys(): Promise<{ url: string }[]> }>;
          };
        }
      ).caches;
      const names = await storage.keys();
      const entries = await Promise.all(
        names.map(async (name) => (await (await storage.open(name)).keys()).map((request) => request.url)),
      );
      return { names, paths: entries.flat().map((url) => new URL(url).pathname) };
    });
    expect(cached.names).toEqual(['gridhub-shell-v3']);
    expect(cached.paths).toEqual(
      expect.arrayContaining([
        '/dashboard/worker.html',
        '/dashboard/worker.js',
        '/dashboard/common.js',
        '/dashboard/outbox.js',
        '/dashboard/vendor/leaflet.js',
        '/socket.io/socket.io.js',
      ]),
    );
    expect(
      cached.paths.filter((path) => !path.startsWith('/dashboard/') && path !== '/socket.io/socket.io.js'),
    ).toEqual([]);

    await (await gate('gate-xijiao-01-north')).forceDoor();
    const incident = await incidentOf('gate-xijiao-01-north', 'intrusion');
    await cardOf(page, incident.id).waitFor(wait);

    await context.setOffline(true);
    await page.reload();
    // The shell from the service worker's cache, the tasks from IndexedDB, and the banner saying as of when.
    await cardOf(page, incident.id).waitFor(wait);
    await expect
      .poll(() => page.locator('#offline-banner').textContent(), wait)
      .toMatch(/^离线 · 截至 \d\d:\d\d$/);
    expect(await page.locator('#offline-banner').isVisible()).toBe(true);

    await cardOf(page, incident.id).locator('[data-action="accept"]').click();
    const pending = cardOf(page, incident.id).locator('[data-outbox="pending"]');
    await expect.poll(() => pending.textContent(), wait).toMatch(/^待发送：接单/);
    expect(await cardOf(page, incident.id).getAttribute('data-pending')).toBe('1');
    expect(await stateOf(incident.id)).toBe('dispatched');

    await context.setOffline(false);
    const sent = cardOf(page, incident.id).locator('[data-outbox="sent"]');
    await expect.poll(() => sent.textContent(), wait).toMatch(/^已发送：接单.*现为已接单$/);
    expect(await stateOf(incident.id)).toBe('accepted');
    await expect.poll(() => status(page), wait).toBe('live');
    expect(await page.locator('#offline-banner').isHidden()).toBe(true);
    // Replayed once: one accept in the audit trail, with when the worker took it offline.
    const { body } = await getJson(`${suite.hub.httpUrl}/api/incidents/${incident.id}/audit`, officerToken);
    const accepts = (body as { entries: AuditEntry[] }).entries.filter(
      (entry) => entry.action === 'incident.accept',
    );
    expect(accepts).toHaveLength(1);
    expect(accepts[0]?.detail.takenAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await cardOf(page, incident.id).locator('[data-outbox="pending"]').count()).toBe(0);
  }, 60_000);

  it('explains on the card an action refused because the case was cancelled while the phone was offline', async () => {
    await (await gate('gate-xijiao-01-south')).holdDoor(1, 400);
    const incident = await incidentOf('gate-xijiao-01-south', 'access_violation');
    await cardOf(page, incident.id).waitFor(wait);

    await context.setOffline(true);
    await expect.poll(() => page.locator('#offline-banner').isVisible(), wait).toBe(true);
    await cardOf(page, incident.id).locator('[data-action="accept"]').click();
    await cardOf(page, incident.id).locator('[data-outbox="pending"]').waitFor(wait);
    // Accepted offline, the card offers what follows: resolving with a note, queued behind the accept.
    await cardOf(page, incident.id).locator('textarea').fill('门已关好');
    await cardOf(page, incident.id).locator('[data-action="resolve"]').click();
    await expect.poll(() => cardOf(page, incident.id).getAttribute('data-pending'), wait).toBe('2');
    // The case moves on without the phone: the officer cancels it.
    const cancelled = await postJson(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/actions/cancel`,
      officerToken,
      { note: 'duplicate of another report' },
    );
    expect(cancelled.status).toBe(200);

    await context.setOffline(false);
    const refused = cardOf(page, incident.id).locator('[data-outbox="refused"]');
    await expect
      .poll(() => refused.textContent(), wait)
      .toMatch(/^接单（\d\d:\d\d 操作）未成功：当前状态不允许此操作；案件现为“已撤销”$/);
    // The resolve behind it is not sent, and says so, its note quoted for the worker to take again.
    expect(await cardOf(page, incident.id).locator('[data-outbox="dropped"]').textContent()).toMatch(
      /^未发送：办结（\d\d:\d\d 操作），因同一案件的前一操作未成功；备注：门已关好$/,
    );
    const { body: trail } = await getJson(
      `${suite.hub.httpUrl}/api/incidents/${incident.id}/audit`,
      officerToken,
    );
    expect(
      (trail as { entries: AuditEntry[] }).entries.filter((entry) => entry.action === 'incident.resolve'),
    ).toEqual([]);
    // The case left the task list, its card stays for the explanation until dismissed.
    expect(await cardOf(page, incident.id).getAttribute('data-settled')).toBe('true');
    expect(await stateOf(incident.id)).toBe('cancelled');
    await cardOf(page, incident.id).getByRole('button', { name: '知道了' }).click();
    await expect.poll(() => cardOf(page, incident.id).count(), wait).toBe(0);
  }, 60_000);

  it('keeps the queue through a session that ended meanwhile: logs in again with the phone, then sends it', async () => {
    await (await gate('gate-xijiao-01-south')).holdDoor(1, 400);
    let incident: Incident | undefined;
    await expect
      .poll(async () => {
        const { body } = await getJson(
          `${suite.hub.httpUrl}/api/incidents?limit=50&state=dispatched`,
          officerToken,
        );
        incident = (body as { incidents: Incident[] }).incidents.find(
          (found) => found.device.id === 'gate-xijiao-01-south',
        );
        return incident !== undefined;
      }, wait)
      .toBe(true);
    const id = (incident as Incident).id;
    await cardOf(page, id).waitFor(wait);
    const token = (await page.evaluate(() => JSON.parse(sessionStorage.getItem('gridhub.session') ?? 'null')))
      .token as string;

    await context.setOffline(true);
    await expect.poll(() => page.locator('#offline-banner').isVisible(), wait).toBe(true);
    await cardOf(page, id).locator('[data-action="accept"]').click();
    await cardOf(page, id).locator('[data-outbox="pending"]').waitFor(wait);
    // The session ends on the hub while the phone is away (its shift's end, a logout elsewhere).
    expect((await postJson(`${suite.hub.httpUrl}/api/auth/logout`, token, {})).status).toBe(200);

    await context.setOffline(false);
    // Refused (401), the page logs in again with the remembered phone, and the kept action goes then.
    await expect.poll(() => stateOf(id), wait).toBe('accepted');
    await expect.poll(() => status(page), wait).toBe('live');
    const fresh = (await page.evaluate(() => JSON.parse(sessionStorage.getItem('gridhub.session') ?? 'null')))
      .token as string;
    expect(fresh).not.toBe(token);
    expect(await page.locator('#username').count()).toBe(0);
    await expect.poll(() => cardOf(page, id).getAttribute('data-pending'), wait).toBe('0');
    const { body } = await getJson(`${suite.hub.httpUrl}/api/incidents/${id}/audit`, officerToken);
    expect(
      (body as { entries: AuditEntry[] }).entries.filter((entry) => entry.action === 'incident.accept'),
    ).toHaveLength(1);
  }, 60_000);

  it('shows a pushed task as a notification, critical ones staying until acted on', async () => {
    await context.grantPermissions(['notifications'], { origin: suite.hub.httpUrl });
    const cdp = await context.newCDPSession(page);
    const registrations = new Map<string, string>();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
      for (const registration of updated)
        if (!registration.isDeleted) registrations.set(registration.scopeURL, registration.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    const scope = `${suite.hub.httpUrl}/dashboard/`;
    await expect.poll(() => registrations.has(scope), wait).toBe(true);
    const push = (message: Record<string, unknown>) =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin: suite.hub.httpUrl,
        registrationId: registrations.get(scope) as string,
        data: JSON.stringify(message),
      });
    type Shown = { title: string; body: string; tag: string; requireInteraction: boolean; data: unknown };
    const shown = () =>
      page.evaluate(async () => {
        const container = (
          globalThis as unknown as {
            navigator: { serviceWorker: { getRegistration(scope: string): Promise<unknown> } };
          }
        ).navigator.serviceWorker;
        const registration = (await container.getRegistration('/dashboard/')) as {
          getNotifications(): Promise<Shown[]>;
        };
        return (await registration.getNotifications()).map(
          ({ title, body, tag, requireInteraction, data }) => ({
            title,
            body,
            tag,
            requireInteraction,
            data,
          }),
        );
      });
    await push({
      title: '新任务：门被强行打开',
      body: '西郊1号网格 · 北门',
      url: '/dashboard/worker.html',
      tag: 'incident-1',
      severity: 'critical',
      incidentIds: ['inc_1'],
    });
    await expect.poll(async () => (await shown()).length, wait).toBe(1);
    await push({ title: '新任务：门长时间未关', body: '南门', tag: 'incident-2', severity: 'warning' });
    await expect.poll(async () => (await shown()).length, wait).toBe(2);
    expect(await shown()).toEqual([
      {
        title: '新任务：门被强行打开',
        body: '西郊1号网格 · 北门',
        tag: 'incident-1',
        requireInteraction: true,
        data: { url: '/dashboard/worker.html', incidentIds: ['inc_1'] },
      },
      {
        title: '新任务：门长时间未关',
        body: '南门',
        tag: 'incident-2',
        requireInteraction: false,
        data: { url: '/dashboard/worker.html', incidentIds: [] },
      },
    ]);
    await cdp.detach();
    // The button asks the hub for its VAPID key; with no push API on this hub, the failure is shown, not swallowed.
    const button = page.locator('#push');
    expect(await button.textContent()).toBe('开启通知');
    await button.click();
    await expect.poll(() => button.getAttribute('data-push'), wait).toBe('failed');
  }, 60_000);

  it('logs in with the remembered phone in a fresh tab, and is logged out when the phone is revoked', async () => {
    const { deviceId } = (await page.evaluate(() =>
      JSON.parse(localStorage.getItem('gridhub.device') ?? 'null'),
    )) as { deviceId: string };
    await page.close();
    // A new tab: no session in its sessionStorage, the remembered phone in localStorage.
    page = await context.newPage();
    await page.goto(`${suite.hub.httpUrl}/dashboard/worker.html`);
    await expect.poll(() => status(page), wait).toBe('live');
    expect(await page.locator('#username').count()).toBe(0);
    expect(await page.locator('#who').textContent()).toContain('赵磊');
    const rotated = (await page.evaluate(() =>
      JSON.parse(localStorage.getItem('gridhub.device') ?? 'null'),
    )) as {
      deviceId: string;
      secret: string;
    };
    expect(rotated.deviceId).toBe(deviceId);

    const { body: mine } = await getJson(`${suite.hub.httpUrl}/api/me/devices`, 'demo-worker-xijiao-01');
    expect((mine as { devices: { deviceId: string }[] }).devices.map((device) => device.deviceId)).toEqual([
      deviceId,
    ]);
    const revoked = await fetch(`${suite.hub.httpUrl}/api/users/worker-xijiao-01/devices`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer demo-admin' },
    });
    expect(revoked.status).toBe(200);
    // The phone's session ends with it: the page falls back to the login form, the credential forgotten.
    await page.locator('#username').waitFor(wait);
    expect(await page.evaluate(() => localStorage.getItem('gridhub.device'))).toBeNull();
    // Nor does it keep the user's tasks: a revoked phone may be a lost one.
    const kept = await page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const request = (
            globalThis as unknown as {
              indexedDB: {
                open(name: string): { result: unknown; onsuccess: () => void; onerror: () => void };
              };
            }
          ).indexedDB.open('gridhub-worker');
          request.onerror = () => reject(new Error('no database'));
          request.onsuccess = () => {
            const db = request.result as {
              transaction(store: string): {
                objectStore(store: string): { count(): { result: number; onsuccess: () => void } };
              };
            };
            const count = db.transaction('tasks').objectStore('tasks').count();
            count.onsuccess = () => resolve(count.result);
          };
        }),
    );
    expect(kept).toBe(0);
  }, 60_000);
});
