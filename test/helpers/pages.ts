import type { Browser, BrowserContext, Geolocation, Page, ViewportSize } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { launchChromium } from './browser.ts';
import { startTestHub, type TestHub } from './hub.ts';

/** How long a page may take to show what a test waits for (expect.poll's and Locator.waitFor's options). */
export const wait = { timeout: 15_000 };
/** Where the pages are used: a browser in China, whatever the machine running the test says. */
export const local = { locale: 'zh-CN', timezoneId: 'Asia/Shanghai' } as const;

/** The two pages: the duty officer's console and the worker's phone page. */
export type PageKind = 'officer' | 'worker';

/** The console on a desktop screen; the worker page on a phone (BrowserContext options). */
export const screens: Record<PageKind, { viewport: ViewportSize; isMobile?: boolean; hasTouch?: boolean }> = {
  officer: { viewport: { width: 1440, height: 900 } },
  worker: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
};

/** A script run in each page before its own, as BrowserContext.addInitScript takes it (a recorder, say). */
export type InitScript = Parameters<BrowserContext['addInitScript']>[0];

export interface OpenOptions {
  /** Another screen than the kind's own (a wall display, a small laptop). */
  viewport?: ViewportSize;
  /** The screen's pixel density. */
  deviceScaleFactor?: number;
  /** Where the browser says it is, with the hub's pages allowed to ask. */
  geolocation?: Geolocation;
  /** Run in the page before its own scripts: what the test reads back from the page later. */
  initScripts?: readonly InitScript[];
  /** Called with the page before it loads, for listeners that must see its first requests and responses. */
  beforeLoad?: (page: Page) => void;
}

/** The connection's state as a page shows it (`data-status`: connecting, syncing, live, offline). */
export const status = (page: Page) => page.locator('#status').getAttribute('data-status');

/**
 * The pages of a test, each in a browser context of its own: opened logged in through the page's form (the demo's
 * users' passwords are `demo-password-<id>`) and live, and closed together after the test (pages left open keep
 * redrawing on every push and slow the rest).
 */
export class TestPages {
  private readonly contexts: BrowserContext[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly httpUrl: string,
  ) {}

  /** The page of this kind, logged in as the user, once its connection is live. */
  async open(kind: PageKind, userId: string, options: OpenOptions = {}): Promise<Page> {
    const context = await this.browser.newContext({
      ...screens[kind],
      ...(options.viewport === undefined ? {} : { viewport: options.viewport }),
      ...(options.deviceScaleFactor === undefined ? {} : { deviceScaleFactor: options.deviceScaleFactor }),
      ...local,
    });
    this.contexts.push(context);
    if (options.geolocation !== undefined) {
      await context.grantPermissions(['geolocation'], { origin: this.httpUrl });
      await context.setGeolocation(options.geolocation);
    }
    for (const script of options.initScripts ?? []) await context.addInitScript(script);
    const page = await context.newPage();
    options.beforeLoad?.(page);
    await page.goto(`${this.httpUrl}/${kind}`);
    await page.getByLabel('用户名').fill(userId);
    await page.getByLabel('密码').fill(`demo-password-${userId}`);
    await page.getByRole('button', { name: '登录' }).click();
    // Playwright's own wait, not expect.poll: a page may be opened in a beforeAll hook too.
    await page.locator('#status[data-status="live"]').waitFor({ state: 'attached', ...wait });
    return page;
  }

  /** Closes every page opened so far (a context already closed by its test is let be). */
  async closeAll(): Promise<void> {
    for (const context of this.contexts.splice(0)) await context.close();
  }
}

/** What a describe block's tests drive: its hub, Chromium, and the pages opened on the hub. */
export interface ChromiumHub {
  hub: TestHub;
  browser: Browser;
  pages: TestPages;
}

/**
 * A hub and Chromium for the describe block it is called in: started before its tests (the hub by `start`, which
 * may start what the hub needs first), the pages closed after each test (or at the end, `keepPages`), all stopped
 * after the block. Its fields are there once the block's tests and later hooks run.
 */
export function chromiumHub(
  start: () => Promise<TestHub> = () => startTestHub(),
  options: { keepPages?: boolean; chromiumArgs?: readonly string[] } = {},
): ChromiumHub {
  const suite = {} as ChromiumHub;
  beforeAll(async () => {
    suite.hub = await start();
    suite.browser = await launchChromium(options.chromiumArgs);
    suite.pages = new TestPages(suite.browser, suite.hub.httpUrl);
  }, 60_000);
  if (options.keepPages !== true) afterEach(() => suite.pages?.closeAll());
  afterAll(async () => {
    await suite.pages?.closeAll();
    await suite.browser?.close();
    await suite.hub?.stop();
  });
  return suite;
}
