import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZktecoTerminal } from '../../simulators/zkteco/zkteco-terminal.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import type { DeviceStatus } from '../../src/core/device-status.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import { optionBlockKeys, records, requests, vendorSerial } from '../devices/zkteco-adms-payloads.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * ZKTeco terminals over ADMS against a real hub: the simulator registers, polls, uploads and runs the hub's
 * commands over real HTTP on loopback, and the vendor's own example requests and public record lines are replayed
 * verbatim (no independent ADMS implementation is installable from npm or Debian).
 */

const accessSerial = 'CGXH221260001';
const attendanceSerial = 'AAML174460003';
/** The demo's ZKTeco terminal (config/demo.yaml). */
const gateId = 'zk-xijiao-02-east';
const clockId = 'zk-xijiao-02-clock';
const vendorId = 'zk-vendor-example';
const livenessId = 'zk-liveness';
const livenessSerial = 'LIVENESS00001';
const pinnedId = 'zk-pinned';
const pinnedSerial = 'PINNED0000001';
const loopbackPinnedId = 'zk-pinned-loopback';
const loopbackPinnedSerial = 'PINNED0000002';
const maxBodyBytes = 64 * 1024;

function deployment() {
  const config = demoConfig() as unknown as { devices: Record<string, unknown>[]; receivers?: unknown };
  config.receivers = { http: { port: 0, maxBodyBytes } };
  config.devices.push(
    {
      id: clockId,
      name: 'ZKTeco clock',
      adapter: 'zkteco-adms',
      serial: attendanceSerial,
      grid: 'grid-xijiao-02',
    },
    {
      id: pinnedId,
      name: 'A terminal pinned to its device network',
      adapter: 'zkteco-adms',
      serial: pinnedSerial,
      grid: 'grid-xijiao-02',
      pushFrom: ['10.20.0.0/16'],
    },
    {
      id: loopbackPinnedId,
      name: 'A terminal pinned to this machine',
      adapter: 'zkteco-adms',
      serial: loopbackPinnedSerial,
      grid: 'grid-xijiao-02',
      pushFrom: ['127.0.0.1'],
    },
    {
      id: livenessId,
      name: 'A terminal whose polls are its heartbeat',
      adapter: 'zkteco-adms',
      serial: livenessSerial,
      grid: 'grid-xijiao-02',
      offlineAfterSeconds: 1,
    },
    {
      id: vendorId,
      name: 'The vendor example',
      adapter: 'zkteco-adms',
      serial: vendorSerial,
      grid: 'grid-xijiao-02',
    },
  );
  return deploymentOf(config);
}

interface Answer {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describe('ZKTeco ADMS terminals against a real hub', () => {
  let hub: TestHub;
  let gate: ZktecoTerminal;
  let clock: ZktecoTerminal;
  const events: DeviceEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  const incidents: { deviceId: string; event: string }[] = [];
  const url = () => `http://127.0.0.1:${hub.hub.deviceHttpPort}`;
  const metric = (name: string, labels: Record<string, string>) =>
    metricValue(
      hub.httpUrl,
      `${name}{${Object.entries(labels)
        .map(([key, value]) => `${key}="${value}"`)
        .join(',')}}`,
    );
  const eventsOf = (deviceId: string, type: string) =>
    events.filter((event) => event.deviceId === deviceId && event.type === type);

  beforeAll(async () => {
    hub = await startTestHub({ deployment: deployment() });
    hub.hub.bus.on('device:event', (event) => events.push(event));
    hub.hub.bus.on('message:refused', (deadLetter) => deadLetters.push(deadLetter));
    hub.hub.bus.on('incident:created', (incident) =>
      incidents.push({ deviceId: incident.device.id, event: incident.event.type }),
    );
    gate = new ZktecoTerminal({ url: url(), serial: accessSerial, pollMs: 100 });
    clock = new ZktecoTerminal({ url: url(), serial: attendanceSerial, mode: 'attendance', pollMs: 100 });
    await gate.start();
    await clock.start();
  });

  afterAll(async () => {
    await gate?.stop();
    await clock?.stop();
    await hub?.stop();
  });

  it('registers an attendance terminal with the option block: the poll delay, the hub’s time zone, real time', () => {
    expect(clock.options).toMatchObject({ Delay: '2', TimeZone: '8', Realtime: '1', ErrorDelay: '30' });
    for (const key of optionBlockKeys) expect(clock.options, key).toHaveProperty(key);
  });

  it('registers an access terminal as Security PUSH: registry=ok, its registry code, then its settings', () => {
    expect(gate.options).toMatchObject({
      registry: 'ok',
      RegistryCode: expect.stringMatching(/^[0-9a-f]{32}$/),
      RequestDelay: '2',
      Realtime: '1',
      TransTables: 'User Transaction',
      TimeZone: '8',
    });
  });

  it('takes a card swipe as access granted, the card masked, at the terminal’s time read in the hub’s zone', async () => {
    const answer = await gate.swipe('31415926');
    expect(answer).toEqual({ status: 200, body: 'OK' });
    const [granted] = eventsOf(gateId, 'access.granted');
    expect(granted?.attributes).toEqual({
      door: 1,
      direction: 'in',
      credentialType: 'card',
      credential: '****5926',
      code: 0,
    });
    expect(Math.abs((granted?.occurredAt ?? 0) - Date.now())).toBeLessThan(5_000);
    expect(JSON.stringify(events)).not.toContain('31415926');
  });

  it('raises incidents for a refused card, a forced door, a door held open, duress and tamper', async () => {
    await gate.swipe('27182818', false);
    await gate.forceDoor();
    await gate.holdDoor();
    await gate.duress();
    await gate.tamper();
    expect(eventsOf(gateId, 'access.denied')[0]?.attributes).toMatchObject({
      reason: 'unknown_credential',
      credential: '****2818',
    });
    for (const type of ['door.forced_open', 'door.held_open', 'access.duress', 'device.tamper'])
      expect(eventsOf(gateId, type), type).toHaveLength(1);
    // The demo's rules raise incidents for a forced door, a door held open and a refused credential.
    await eventually(() =>
      ['door.forced_open', 'door.held_open', 'access.denied'].every((type) =>
        incidents.some((incident) => incident.deviceId === gateId && incident.event === type),
      ),
    );
  });

  it('takes an attendance terminal’s punches (ATTLOG), answering OK:<records dealt with>', async () => {
    const answer = await clock.punch('78979877');
    expect(answer).toEqual({ status: 200, body: 'OK:1' });
    expect(eventsOf(clockId, 'access.granted')[0]?.attributes).toEqual({
      credentialType: 'finger',
      credential: '****9877',
      punch: 'check_in',
    });
  });

  it('counts the terminal’s polls as heartbeats', async () => {
    const polls = gate.polls;
    await eventually(() => gate.polls > polls + 2);
    expect(await metric('gridhub_zkteco_adms_requests_total', { endpoint: 'getrequest' })).toBeGreaterThan(2);
  });

  it('is online while it polls, offline when its polls stop, and online again when they resume', async () => {
    const terminal = new ZktecoTerminal({
      url: url(),
      serial: livenessSerial,
      mode: 'attendance',
      pollMs: 100,
    });
    const status = async () =>
      (
        (await getJson(`${hub.httpUrl}/api/devices/${livenessId}`, 'demo-admin')).body as {
          status: DeviceStatus;
        }
      ).status;
    // Never heard from since the hub started, it may already have been reported offline: count from here.
    const offline = () => eventsOf(livenessId, 'device.offline').length;
    const online = () => eventsOf(livenessId, 'device.online').length;
    await terminal.start();
    try {
      await eventually(async () => (await status()).online);
      const [offlineBefore, onlineBefore] = [offline(), online()];
      terminal.stopPolling();
      await eventually(async () => !(await status()).online);
      await eventually(() => offline() === offlineBefore + 1);
      terminal.resumePolling();
      await eventually(async () => (await status()).online);
      await eventually(() => online() === onlineBefore + 1);
    } finally {
      await terminal.stop();
    }
  });

  it('opens a door on command: queued, collected on the next poll, run, and answered Return=0', async () => {
    const answer = await postJson<{ ok?: boolean; requestId?: string }>(
      `${hub.httpUrl}/api/devices/${gateId}/commands/open_door`,
      'demo-officer-xijiao',
      { params: { door: 1, seconds: 5 } },
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ requestId: expect.stringMatching(/^cmd_/), ok: true });
    expect(gate.executed.at(-1)).toMatchObject({ command: 'CONTROL DEVICE 01010105', returned: 0 });
    await eventually(() => eventsOf(gateId, 'door.remote_opened').length === 1);
  });

  it('reports a command the terminal does not support as failed, in the terminal’s words', async () => {
    const answer = await postJson<{ ok?: boolean; error?: string }>(
      `${hub.httpUrl}/api/devices/${gateId}/commands/ac_unlock`,
      'demo-admin',
      {},
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      ok: false,
      error: 'not supported by the device (Return=-1002, CMD=AC_UNLOCK)',
    });
  });

  it('releases an attendance terminal’s lock with AC_UNLOCK', async () => {
    const answer = await postJson<{ ok?: boolean }>(
      `${hub.httpUrl}/api/devices/${clockId}/commands/ac_unlock`,
      'demo-admin',
      {},
    );
    expect(answer.body.ok).toBe(true);
    expect(clock.executed.at(-1)?.command).toBe('AC_UNLOCK');
  });

  it('refuses a command before the terminal has ever polled: it is not connected (409)', async () => {
    const answer = await postJson<{ error?: { code: string } }>(
      `${hub.httpUrl}/api/devices/${vendorId}/commands/open_door`,
      'demo-admin',
      {},
    );
    expect(answer.status).toBe(409);
    expect(answer.body.error?.code).toBe('device_offline');
  });

  it('times a command out when the terminal stops polling, and never delivers it late', async () => {
    gate.stopPolling();
    try {
      const executed = gate.executed.length;
      const answer = await postJson<{ error?: { code: string } }>(
        `${hub.httpUrl}/api/devices/${gateId}/commands/open_door`,
        'demo-admin',
        { params: {}, timeoutMs: 300 },
      );
      expect(answer.status).toBe(504);
      expect(answer.body.error?.code).toBe('device_timeout');
      await new Promise((resolve) => setTimeout(resolve, 50));
      gate.resumePolling();
      const polls = gate.polls;
      await eventually(() => gate.polls > polls + 1);
      expect(gate.executed).toHaveLength(executed);
      expect(
        await metric('gridhub_zkteco_adms_commands_total', { outcome: 'expired' }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      gate.resumePolling();
    }
  });

  it('refuses a disabled terminal (403) until it is enabled again', async () => {
    const disable = await postJson(`${hub.httpUrl}/api/devices/${clockId}/disable`, 'demo-admin');
    expect(disable.status).toBe(200);
    expect((await clock.punch('12121212')).status).toBe(403);
    expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'disabled' })).toBeGreaterThanOrEqual(
      1,
    );
    await postJson(`${hub.httpUrl}/api/devices/${clockId}/enable`, 'demo-admin');
    expect((await clock.punch('12121212')).status).toBe(200);
  });

  it('keeps at most 16 commands waiting for a terminal that does not poll', async () => {
    gate.stopPolling();
    try {
      const answers = await Promise.all(
        Array.from({ length: 17 }, () =>
          postJson<{ error?: { code: string } }>(
            `${hub.httpUrl}/api/devices/${gateId}/commands/open_door`,
            'demo-admin',
            { params: {}, timeoutMs: 500 },
          ),
        ),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses.filter((status) => status === 504)).toHaveLength(16);
      expect(statuses.filter((status) => status !== 504)).toEqual([409]);
    } finally {
      gate.resumePolling();
    }
  });

  it('refuses a terminal pinned to its device network when its serial comes from elsewhere (pushFrom)', async () => {
    const elsewhere = new ZktecoTerminal({ url: url(), serial: pinnedSerial, mode: 'attendance' });
    expect((await elsewhere.register()).status).toBe(403);
    expect((await elsewhere.punch('1234')).status).toBe(403);
    expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'wrong_source' })).toBe(2);
    const letter = deadLetters.find((entry) => entry.deviceId === pinnedId);
    expect(letter?.reason).toBe('unauthenticated');
    const home = new ZktecoTerminal({ url: url(), serial: loopbackPinnedSerial, mode: 'attendance' });
    expect((await home.register()).status).toBe(200);
    expect((await home.punch('1234')).body).toBe('OK:1');
  });

  it('refuses an unknown serial: 403 (the terminal backs off), counted, dead-lettered without its serial', async () => {
    const stranger = new ZktecoTerminal({ url: url(), serial: 'NOTPROVISIONED1' });
    const answer = await stranger.register();
    expect(answer.status).toBe(403);
    await expect(stranger.start()).rejects.toThrow(/403/);
    const upload = await stranger.swipe('11112222');
    expect(upload.status).toBe(403);
    expect(
      await metric('gridhub_zkteco_adms_refusals_total', { reason: 'unknown_serial' }),
    ).toBeGreaterThanOrEqual(3);
    const letter = deadLetters.find(
      (entry) => entry.topic === 'zkteco-adms/http' && entry.reason === 'unknown_device',
    );
    expect(letter).toBeDefined();
    expect(JSON.stringify(letter)).not.toContain('NOTPROVISIONED1');
    expect(JSON.stringify(deadLetters)).not.toContain('11112222');
    expect(eventsOf('zk-unknown', 'access.granted')).toHaveLength(0);
  });

  it('takes what is valid of a partly bad upload, refuses the rest by shape, and answers for all of it', async () => {
    const before = eventsOf(clockId, 'access.granted').length;
    const malformed = await metric('gridhub_zkteco_adms_refusals_total', { reason: 'malformed_line' });
    const answer = await send(
      hub.hub.deviceHttpPort,
      'POST',
      `/iclock/cdata?SN=${attendanceSerial}&table=ATTLOG&Stamp=9999`,
      `12345678\t2026-11-22 09:30:00\t0\t1\nthis is not a record\n\u0000\u0001garbage\n87654321\t2026-11-22 09:31:00\t1\t15\n`,
    );
    expect(answer).toEqual({ status: 200, body: 'OK:4' });
    expect(eventsOf(clockId, 'access.granted').length).toBe(before + 2);
    expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'malformed_line' })).toBe(
      malformed + 2,
    );
    expect(JSON.stringify(deadLetters)).not.toContain('this is not a record');
  });

  it('refuses a record the adapter’s schema refuses (an event code that is text), dead-lettered by shape', async () => {
    const answer = await gate.sendGarbage('rtlog', [
      'time=2026-11-22 09:30:00\tpin=0\tcardno=44445555\teventaddr=1\tevent=open\tinoutstatus=0\tverifytype=4\tindex=9',
    ]);
    expect(answer).toEqual({ status: 200, body: 'OK' });
    const letter = deadLetters.find((entry) => entry.deviceId === gateId && entry.reason === 'schema');
    expect(letter?.problems.join()).toContain('event');
    expect(JSON.stringify(letter)).not.toContain('44445555');
  });

  it('answers an unknown table OK (sending it again would not help), counted and dead-lettered', async () => {
    const answer = await send(
      hub.hub.deviceHttpPort,
      'POST',
      `/iclock/cdata?SN=${accessSerial}&table=SECRETS`,
      'x=1\n',
    );
    expect(answer).toEqual({ status: 200, body: 'OK' });
    expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'unknown_table' })).toBe(1);
  });

  it('refuses an upload of too many lines whole (413), and an oversized body at the listener', async () => {
    const lines = Array.from({ length: 1001 }, (_, index) => `${index + 1}\t2026-11-22 09:30:00\t0\t1`);
    const many = await send(
      hub.hub.deviceHttpPort,
      'POST',
      `/iclock/cdata?SN=${attendanceSerial}&table=ATTLOG`,
      lines.join('\n'),
    );
    expect(many.status).toBe(413);
    expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'too_many_lines' })).toBe(1);
    const oversized = await gate.oversizedUpload(maxBodyBytes * 2).catch(() => ({ status: 413, body: '' }));
    expect(oversized.status).toBe(413);
    expect(
      await metric('gridhub_device_http_refusals_total', { reason: 'body_too_large' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('takes a slow upload that arrives within the time limit', async () => {
    const answer = await gate.slowUpload(
      'rtlog',
      [
        'time=2026-11-22 09:30:00\tpin=0\tcardno=0\teventaddr=1\tevent=200\tinoutstatus=2\tverifytype=200\tindex=77',
      ],
      400,
    );
    expect(answer).toEqual({ status: 200, body: 'OK' });
  });

  it('keeps a skewed clock’s time as the terminal gives it', async () => {
    gate.skewClock(-3_600_000);
    try {
      await gate.forceDoor(2);
      const forced = eventsOf(gateId, 'door.forced_open').find((event) => event.attributes.door === 2);
      expect(Date.now() - (forced?.occurredAt ?? 0)).toBeGreaterThan(3_500_000);
    } finally {
      gate.skewClock(0);
    }
  });

  it('survives a reboot: the terminal registers again, logs its start, and its commands still arrive', async () => {
    await gate.reboot();
    await eventually(() => eventsOf(gateId, 'device.started').length === 1);
    const answer = await postJson<{ ok?: boolean }>(
      `${hub.httpUrl}/api/devices/${gateId}/commands/open_door`,
      'demo-admin',
      { params: { door: 2, seconds: 10 } },
    );
    expect(answer.body.ok).toBe(true);
    expect(gate.executed.at(-1)?.command).toBe('CONTROL DEVICE 0102010A');
  });

  describe('replays the vendor’s example requests verbatim', () => {
    it('answers the initialisation with an option block naming the serial', async () => {
      const answer = await send(
        hub.hub.deviceHttpPort,
        requests.registration.method,
        requests.registration.path,
      );
      expect(answer.status).toBe(200);
      const [first, ...rest] = answer.body.trim().split('\n');
      expect(first).toBe(`GET OPTION FROM: ${vendorSerial}`);
      const keys = rest.map((line) => line.slice(0, line.indexOf('=')));
      for (const key of optionBlockKeys) expect(keys, key).toContain(key);
    });

    it('answers a poll with INFO as a heartbeat (OK, nothing queued)', async () => {
      expect(
        await send(hub.hub.deviceHttpPort, requests.pollWithInfo.method, requests.pollWithInfo.path),
      ).toEqual({
        status: 200,
        body: 'OK',
      });
    });

    it('answers command results it never asked for OK, and counts them', async () => {
      const before = await metric('gridhub_zkteco_adms_refusals_total', { reason: 'unknown_command' });
      const answer = await send(
        hub.hub.deviceHttpPort,
        requests.commandResults.method,
        requests.commandResults.path,
        requests.commandResults.body,
      );
      expect(answer).toEqual({ status: 200, body: 'OK' });
      expect(await metric('gridhub_zkteco_adms_refusals_total', { reason: 'unknown_command' })).toBe(
        before + 3,
      );
    });

    it.each(Object.values(records))('takes the public record line: $name', async (record) => {
      const before = events.filter((event) => event.deviceId === vendorId).length;
      const answer = await send(
        hub.hub.deviceHttpPort,
        'POST',
        `/iclock/cdata?SN=${vendorSerial}&table=${record.table}&Stamp=9999`,
        `${record.line}\n`,
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toBe(record.table === 'rtlog' || record.table === 'rtstate' ? 'OK' : 'OK:1');
      // rtstate raises nothing; every other record is one event.
      const expected = record.table === 'rtstate' ? before : before + 1;
      expect(events.filter((event) => event.deviceId === vendorId).length).toBe(expected);
      expect(deadLetters.filter((entry) => entry.deviceId === vendorId)).toEqual([]);
    });
  });
});
