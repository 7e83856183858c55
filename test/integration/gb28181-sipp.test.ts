import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { Incident } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';
import { freeSipPort, type SippExit, startSipp } from '../helpers/sipp.ts';

/**
 * Independent proof of the hub's GB/T 28181 device side: Debian's SIPp (sip-tester), an implementation that shares
 * nothing with the hub or the simulators, plays an NVR against a real hub over UDP and TCP (test/sipp/
 * gb28181-device-*.xml). It registers with its own digest (401 then 200, with the Date header devices set their
 * clocks from), keeps alive, raises an alarm that the hub acknowledges with a Response Alarm SIPp checks, answers
 * the hub's Catalog Query with two cameras the hub adopts, and unregisters; a wrong password gets 403.
 */

const serverId = '34020000002000000001';
const domain = '3402000000';

/** One NVR per transport, so the runs do not share a registration; each lists two cameras of its own. */
const nvrs = {
  udp: {
    id: 'nvr-sipp-udp',
    code: '34020000001180000101',
    password: 'sipp-udp-secret',
    cameras: ['34020000001310000101', '34020000001310000102'],
    sn: 4101,
  },
  tcp: {
    id: 'nvr-sipp-tcp',
    code: '34020000001180000102',
    password: 'sipp-tcp-secret',
    cameras: ['34020000001310000201', '34020000001310000202'],
    sn: 4102,
  },
} as const;

type GbSettings = NonNullable<ConfigFile['receivers']['gb28181']>;

function config(): ConfigFile {
  const config = demoConfig();
  config.receivers = {
    ...config.receivers,
    gb28181: {
      port: 0,
      serverId,
      domain,
      // SIPp answers the DeviceInfo Query 200 but sends no Response: the hub gives up on it soon, then asks the catalog.
      queryTimeoutSeconds: 1,
      // Every run registers several times from 127.0.0.1.
      registration: { minExpiresSeconds: 60, maxExpiresSeconds: 86_400, perMinute: 600, burst: 100 },
    } as GbSettings,
  };
  config.devices = [
    ...config.devices,
    ...Object.values(nvrs).map((nvr) => ({
      id: nvr.id,
      name: `SIPp NVR ${nvr.id}`,
      adapter: 'gb28181',
      grid: 'grid-xijiao-01',
      offlineAfterSeconds: 86_400,
      gb28181: { id: nvr.code, password: nvr.password },
    })),
  ] as ConfigFile['devices'];
  return config;
}

const running: { stop(): unknown }[] = [];

afterEach(() => {
  for (const item of running.splice(0)) item.stop();
});

interface DeviceRun {
  readonly scenario: string;
  readonly transport: 'udp' | 'tcp';
  readonly hubPort: number;
  readonly login: { readonly username: string; readonly password: string };
  readonly variables: Readonly<Record<string, string>>;
  readonly outOfCall?: string;
}

/** Runs SIPp for one call (10 s at most) against the hub; resolves with its exit code and its error trace. */
async function runSipp(run: DeviceRun): Promise<SippExit> {
  const sipp = startSipp({
    scenario: run.scenario,
    outOfCall: run.outOfCall,
    transport: run.transport,
    localPort: await freeSipPort(),
    remote: `127.0.0.1:${run.hubPort}`,
    timeoutSeconds: 10,
    args: [
      ...['-au', run.login.username, '-ap', run.login.password],
      ...Object.entries(run.variables).flatMap(([name, value]) => ['-set', name, value]),
    ],
    // The MANSCDP bodies are GB2312: read byte for byte, not as broken UTF-8.
    traceEncoding: 'latin1',
  });
  running.push(sipp);
  return sipp.exit;
}

describe('SIPp as a GB/T 28181 device against a real hub', () => {
  let hub: TestHub;
  const events: DeviceEvent[] = [];
  const created: Incident[] = [];
  const refusals: DeadLetter[] = [];

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deploymentOf(config()) });
    hub.hub.bus.on('device:event', (event) => {
      events.push(event);
    });
    hub.hub.bus.on('incident:created', (incident) => {
      created.push(incident);
    });
    hub.hub.bus.on('message:refused', (deadLetter) => {
      refusals.push(deadLetter);
    });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const deviceStatus = async (id: string) =>
    (await getJson(`${hub.httpUrl}/api/devices/${id}`, 'demo-admin')) as {
      status: number;
      body: { name: string; gridId: string; status: { online: boolean } };
    };

  describe.each(['udp', 'tcp'] as const)('over %s', (transport) => {
    const nvr = nvrs[transport];

    it('registers with its digest, keeps alive, raises an alarm the hub acknowledges, gives its catalog, unregisters', async () => {
      const keepalives = await metricValue(hub.httpUrl, 'gridhub_gb28181_messages_total{cmd="Keepalive"}');
      const fromRefusal = refusals.length;
      // Online is watched while SIPp runs: it unregisters at the end.
      let seenOnline = false;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          if ((await deviceStatus(nvr.id)).body.status.online) seenOnline = true;
          await new Promise((done) => setTimeout(done, 50));
        }
      })();
      const result = await runSipp({
        scenario: 'gb28181-device-uac.xml',
        outOfCall: 'gb28181-device-ooc.xml',
        transport,
        hubPort: hub.hub.gb28181Port,
        login: { username: nvr.code, password: nvr.password },
        variables: {
          code: nvr.code,
          server: serverId,
          domain,
          sn: String(nvr.sn),
          camera1: nvr.cameras[0],
          camera2: nvr.cameras[1],
        },
      });
      watching = false;
      await watch;
      // SIPp fails the call (exit 1) on a status it did not expect or a regexp check that fails, and times out
      // (exit 255) when the hub's acknowledgement or catalog query never reaches the out-of-call scenario.
      expect(result.code, result.errors).toBe(0);
      expect(seenOnline).toBe(true);
      expect(refusals.slice(fromRefusal)).toEqual([]);

      // The keepalive was counted; the alarm opened an incident on the NVR, its GB2312 description read.
      expect(
        await metricValue(hub.httpUrl, 'gridhub_gb28181_messages_total{cmd="Keepalive"}'),
      ).toBeGreaterThan(keepalives);
      const alarm = events.find((event) => event.deviceId === nvr.id && event.attributes.source === nvr.code);
      expect(alarm).toMatchObject({
        type: 'camera.video_lost',
        attributes: { priority: 1, method: 2, alarmType: 1, description: '视频丢失' },
      });
      await eventually(() => created.some((incident) => incident.device.id === nvr.id));
      expect(created.find((incident) => incident.device.id === nvr.id)).toMatchObject({
        event: { type: 'camera.video_lost' },
        gridId: 'grid-xijiao-01',
      });

      // The catalog's two cameras are devices of their own, named as listed, in the NVR's grid.
      for (const [index, camera] of nvr.cameras.entries()) {
        await eventually(async () => (await deviceStatus(`gb-${camera}`)).status === 200);
        expect((await deviceStatus(`gb-${camera}`)).body).toMatchObject({
          name: `SIPp camera ${index === 0 ? 'one' : 'two'}`,
          gridId: 'grid-xijiao-01',
        });
      }

      // Expires: 0 ended the registration.
      await eventually(async () => !(await deviceStatus(nvr.id)).body.status.online);
    }, 30_000);

    it('a wrong password is answered 403, counted and dead-lettered', async () => {
      const before = await metricValue(
        hub.httpUrl,
        'gridhub_messages_refused_total{reason="unauthenticated"}',
      );
      const fromRefusal = refusals.length;
      const result = await runSipp({
        scenario: 'gb28181-device-wrong-password.xml',
        transport,
        hubPort: hub.hub.gb28181Port,
        login: { username: nvr.code, password: 'not-the-password' },
        variables: { code: nvr.code, server: serverId, domain },
      });
      expect(result.code, result.errors).toBe(0);
      expect(await metricValue(hub.httpUrl, 'gridhub_messages_refused_total{reason="unauthenticated"}')).toBe(
        before + 1,
      );
      await eventually(() => refusals.length > fromRefusal);
      expect(refusals.slice(fromRefusal)).toMatchObject([
        { reason: 'unauthenticated', deviceId: nvr.id, topic: `gb28181/${transport}` },
      ]);
      expect(JSON.stringify(refusals.slice(fromRefusal))).not.toContain('not-the-password');
      expect((await deviceStatus(nvr.id)).body.status.online).toBe(false);
    }, 30_000);
  });
});
