import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import gcoord from 'gcoord';
import { afterAll, describe, expect, it } from 'vitest';
import { demoConfig, deploymentOf, getJson, startTestHub } from '../helpers/hub.ts';
import { chromiumHub } from '../helpers/pages.ts';

/**
 * The console map over a tile server, as a deployment with AMap-style tiles (GCJ-02) would have it: a tile server
 * on loopback stands in for the provider; the page loads its tiles under the hub's Content-Security-Policy, and the
 * devices configured in WGS-84 are drawn where gcoord (the npm package, not this project's code) puts them in GCJ-02.
 */
/** A 1×1 PNG. */
const tile = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

describe('the console map over a tile server in GCJ-02', () => {
  let tiles: Server;
  let tileOrigin: string;
  const tileRequests: string[] = [];
  // The tile server first: the hub's configuration names it.
  const suite = chromiumHub(async () => {
    tiles = createServer((request, response) => {
      tileRequests.push(request.url ?? '');
      if (!/^\/\d+\/\d+\/\d+\.png$/.test(request.url ?? '')) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'image/png' }).end(tile);
    });
    await new Promise<void>((resolve) => tiles.listen(0, '127.0.0.1', resolve));
    tileOrigin = `http://127.0.0.1:${(tiles.address() as AddressInfo).port}`;
    const config = demoConfig() as unknown as Record<string, unknown>;
    config.map = {
      coordinates: 'WGS84',
      tiles: {
        url: `${tileOrigin}/{z}/{x}/{y}.png`,
        coordinates: 'GCJ02',
        attribution: '© 测试底图',
        maxZoom: 18,
      },
    };
    return startTestHub({ deployment: deploymentOf(config) });
  });

  afterAll(async () => {
    await new Promise((resolve) => tiles?.close(resolve));
  });

  it('loads the tiles the configuration names, draws the devices converted to the tiles’ system, and breaks no policy', async () => {
    const settings = await getJson(`${suite.hub.httpUrl}/api/console`, 'demo-officer-xijiao');
    expect((settings.body as { map: { tiles: { coordinates: string } } }).map.tiles.coordinates).toBe(
      'GCJ02',
    );
    const policy: string[] = [];
    const page = await suite.pages.open('officer', 'officer-xijiao', {
      // Every violation of the policy the page meets, from its first script on.
      initScripts: [
        () => {
          const seen: string[] = [];
          Object.defineProperty(globalThis, 'cspViolations', { value: seen });
          (
            globalThis as unknown as {
              document: {
                addEventListener(type: string, listener: (event: { blockedURI: string }) => void): void;
              };
            }
          ).document.addEventListener('securitypolicyviolation', (event) => seen.push(event.blockedURI));
        },
      ],
      // The policy the page itself is served with.
      beforeLoad: (page) =>
        page.on('response', (response) => {
          if (response.url().endsWith('/officer'))
            policy.push(response.headers()['content-security-policy'] ?? '');
        }),
    });
    const map = page.locator('#map');
    await expect.poll(() => map.getAttribute('data-tiles'), { timeout: 15_000 }).toBe('on');
    // The tile server's origin, and no other, joins the pages' img-src.
    expect(policy[0]).toMatch(new RegExp(`img-src [^;]*${tileOrigin.replace(/[.:/]/g, '\\$&')}`));
    await expect.poll(() => tileRequests.length, { timeout: 15_000 }).toBeGreaterThan(0);
    await expect
      .poll(
        () =>
          map
            .locator('img.leaflet-tile')
            .evaluateAll(
              (images) =>
                images.filter((image) => (image as unknown as { naturalWidth: number }).naturalWidth > 0)
                  .length,
            ),
        { timeout: 15_000 },
      )
      .toBeGreaterThan(0);
    expect(await page.locator('.leaflet-control-attribution').textContent()).toContain('© 测试底图');

    // config/demo.yaml places this gate at [116.304342, 39.930992], WGS-84: drawn at gcoord's GCJ-02 of it.
    const [lon, lat] = gcoord.transform([116.304342, 39.930992], gcoord.WGS84, gcoord.GCJ02) as [
      number,
      number,
    ];
    const drawn = await map.locator('path[data-device="gate-xijiao-01-south"]').getAttribute('data-latlng');
    expect(drawn).toBe(`${lat.toFixed(6)},${lon.toFixed(6)}`);
    // GCJ-02 is offset from WGS-84 by hundreds of metres around Beijing: the conversion did happen.
    expect(Math.abs(lon - 116.304342)).toBeGreaterThan(0.003);

    const violations = await page.evaluate(
      () => (globalThis as unknown as { cspViolations: string[] }).cspViolations,
    );
    expect(violations).toEqual([]);
  }, 60_000);
});
