import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicMalformedMessages, publicMessages } from '../../devices/alarm-panel-cid/public-messages.ts';
import { type AlarmPanelOptions, AlarmPanelSimulator } from '../../simulators/alarm-panel/alarm-panel.ts';
import { readAnswer } from '../../simulators/alarm-panel/dc09-sender.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import type { DeviceEvent } from '../../src/core/device-event.ts';
import { type Incident, isOpen } from '../../src/core/incident.ts';
import type { DeadLetter } from '../../src/core/refusals.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  type MovableClock,
  metricValue,
  movableClock,
  postJson,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

/**
 * Alarm panels over SIA DC-09 through a real hub: the simulator (a panel that speaks DC-09 over TCP and UDP on
 * loopback) raises an incident with an alarm and clears it with the restoral; every way a message can fail is
 * answered as the standard says and refused by reason into the dead letters; the receiver's limits hold; and the
 * messages real panels and public projects published are replayed over TCP and UDP and answered ACK.
 */

const pillar = { id: 'pillar-xijiao-02', account: 'A1020' };
const panel = {
  id: 'panel-luming-03',
  account: 'B1303',
  key: Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex'),
};

type SiaSettings = NonNullable<ConfigFile['receivers']['siaDc09']>;

function configWith(siaDc09: Partial<SiaSettings>, devices: ConfigFile['devices'] = []): ConfigFile {
  const config = demoConfig();
  config.receivers = { ...config.receivers, siaDc09: { port: 0, ...siaDc09 } as SiaSettings };
  config.devices = [...config.devices, ...devices];
  // The demo's other devices never report here: keep them from going offline while the tests run.
  for (const device of config.devices) device.offlineAfterSeconds = 86_400;
  return config;
}

function simulator(hub: TestHub, options: Partial<AlarmPanelOptions> & Pick<AlarmPanelOptions, 'account'>) {
  return new AlarmPanelSimulator({
    host: '127.0.0.1',
    port: hub.hub.siaPort,
    transport: 'tcp',
    answerTimeoutMs: 1500,
    retries: 0,
    ...options,
  });
}

async function deadLetters(hub: TestHub): Promise<DeadLetter[]> {
  const { body } = await getJson(`${hub.httpUrl}/api/dead-letters?limit=100`, 'demo-admin');
  return (body as { deadLetters: DeadLetter[] }).deadLetters;
}

const refused = (hub: TestHub, reason: string) =>
  metricValue(hub.httpUrl, `gridhub_messages_refused_total{reason="${reason}"}`);

describe('SIA DC-09: a panel raises an incident with an alarm and clears it with the restoral', () => {
  let hub: TestHub;
  const clock: MovableClock = movableClock();
  const events: DeviceEvent[] = [];
  const created: Incident[] = [];
  const sims: AlarmPanelSimulator[] = [];

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: deploymentOf(configWith({ maxFrameBytes: 512 })),
      clock: clock.now,
    });
    hub.hub.bus.on('device:event', (event) => {
      events.push(event);
    });
    hub.hub.bus.on('incident:created', (incident) => {
      created.push(incident);
    });
  });

  afterAll(async () => {
    await Promise.all(sims.map((sim) => sim.stop()));
    await hub?.stop();
  });

  const sim = (options: Partial<AlarmPanelOptions> & Pick<AlarmPanelOptions, 'account'>) => {
    const made = simulator(hub, options);
    sims.push(made);
    return made;
  };

  async function incidentOf(deviceId: string, type: string): Promise<Incident> {
    await eventually(() =>
      created.some((incident) => incident.device.id === deviceId && incident.event.type === type),
    );
    return created.find(
      (incident) => incident.device.id === deviceId && incident.event.type === type,
    ) as Incident;
  }

  for (const transport of ['tcp', 'udp'] as const) {
    it(`Contact ID in the clear over ${transport}: burglary in a zone opens an incident, its restoral resolves it`, async () => {
      const pillarSim = sim({ account: pillar.account, transport, receiver: '1', line: '2' });
      const before = created.length;
      const zone = transport === 'tcp' ? 3 : 5;
      const alarm = await pillarSim.alarm(zone);
      expect(alarm.answer).toMatchObject({
        kind: 'ACK',
        encrypted: false,
        account: pillar.account,
        intact: true,
      });
      expect(alarm.answer?.seq).toBe(String(alarm.seq).padStart(4, '0'));
      expect(alarm.answer?.raw.toString('latin1')).toContain(`R1L2#${pillar.account}[]`);
      await eventually(() => created.length > before);
      const incident = created[created.length - 1] as Incident;
      expect(incident).toMatchObject({
        category: 'intrusion',
        device: { id: pillar.id, adapter: 'alarm-panel-cid' },
        event: { type: 'alarm.intrusion', attributes: { code: '130', zone, partition: 1 } },
        gridId: 'grid-xijiao-02',
      });
      // The ACK came after the commit: the incident is in the store already.
      expect((await hub.testHandle.store.getIncident(incident.id))?.state).toBe('dispatched');
      const restore = await pillarSim.restore(zone);
      expect(restore.answer?.kind).toBe('ACK');
      await eventually(
        async () => (await hub.testHandle.store.getIncident(incident.id))?.state === 'resolved',
      );
      await pillarSim.stop();
    });
  }

  it('SIA DCS encrypted with AES-128 over UDP: a panic opens an emergency, which PR does not close; the ACK is encrypted', async () => {
    const panelSim = sim({ account: panel.account, key: panel.key, protocol: 'SIA-DCS', transport: 'udp' });
    const panic = await panelSim.alarm(1, 'panic');
    expect(panic.answer).toMatchObject({
      kind: 'ACK',
      encrypted: true,
      account: panel.account,
      intact: true,
    });
    // The encrypted ACK carries the receiver's time (the hub's clock).
    expect(Math.abs((panic.answer?.time ?? 0) - clock.now())).toBeLessThan(5_000);
    const incident = await incidentOf(panel.id, 'alarm.panic');
    expect(incident).toMatchObject({ category: 'emergency', event: { attributes: { code: 'PA', zone: 1 } } });
    // The button's restoral is decoded, but an emergency is for a person to close: the case stays open.
    const fromEvent = events.length;
    expect((await panelSim.restore(1, 'panic')).answer?.kind).toBe('ACK');
    expect(events.slice(fromEvent).map((event) => event.type)).toEqual(['alarm.panic_restored']);
    expect(isOpen((await hub.testHandle.store.getIncident(incident.id))?.state ?? 'closed')).toBe(true);
  });

  it('open, close and the periodic test report decode to disarmed, armed and a test', async () => {
    const pillarSim = sim({ account: pillar.account });
    for (const act of [() => pillarSim.open(7), () => pillarSim.close(7), () => pillarSim.testReport()]) {
      expect((await act()).answer?.kind).toBe('ACK');
    }
    const mine = events.filter((event) => event.deviceId === pillar.id).slice(-3);
    expect(mine.map((event) => [event.type, event.attributes])).toEqual([
      ['panel.disarmed', { code: '401', partition: 1, user: 7 }],
      ['panel.armed', { code: '401', partition: 1, user: 7 }],
      ['panel.test', { code: '602', partition: 1 }],
    ]);
  });

  it('NULL supervision is a heartbeat: it keeps the panel online and raises nothing', async () => {
    const panelSim = sim({ account: panel.account, key: panel.key, transport: 'udp' });
    const count = events.length;
    const answer = await panelSim.supervise();
    expect(answer.answer).toMatchObject({ kind: 'ACK', encrypted: true, seq: '0000' });
    const { body } = await getJson(`${hub.httpUrl}/api/devices/${panel.id}`, 'demo-admin');
    expect((body as { status: { online: boolean } }).status.online).toBe(true);
    expect(events.length).toBe(count);
  });

  it('a retransmission of the same sequence number is acknowledged again and raises nothing twice', async () => {
    const pillarSim = sim({ account: pillar.account });
    const before = created.length;
    const first = await pillarSim.alarm(9, 'fire');
    expect(first.answer?.kind).toBe('ACK');
    await eventually(() => created.length === before + 1);
    // The ACK was lost: the panel sends the very same bytes again, and again with a new timestamp.
    expect((await pillarSim.retransmit()).answer?.kind).toBe('ACK');
    pillarSim.faults.clockSkewMs = 3_000;
    const again = await pillarSim.send({ token: 'ADM-CID', seq: first.seq, data: '1110 01 009' });
    expect(again.bytes.equals(first.bytes)).toBe(false);
    expect(again.answer?.kind).toBe('ACK');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fires = created.filter(
      (incident) => incident.device.id === pillar.id && incident.event.type === 'alarm.fire',
    );
    expect(fires).toHaveLength(1);
    expect((await hub.testHandle.store.getIncident(fires[0]?.id ?? ''))?.occurrences).toBe(1);
  });

  it('a bad CRC is answered NAK with the receiver’s time, refused as malformed and dead-lettered by shape', async () => {
    const pillarSim = sim({ account: pillar.account });
    const refusedBefore = await refused(hub, 'malformed');
    pillarSim.faults.badCrc = true;
    const report = await pillarSim.alarm(4);
    expect(report.answer).toMatchObject({ kind: 'NAK', seq: '0000', intact: true });
    expect(report.answer?.raw.toString('latin1')).toMatch(
      /"NAK"0000R0L0A0\[\]_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}\r$/,
    );
    expect(Math.abs((report.answer?.time ?? 0) - clock.now())).toBeLessThan(5_000);
    await eventually(async () => (await refused(hub, 'malformed')) === refusedBefore + 1);
    const letter = (await deadLetters(hub)).find((candidate) => candidate.topic === 'sia-dc09/tcp');
    expect(letter).toMatchObject({
      reason: 'malformed',
      deviceId: null,
      problems: ['the CRC does not match the message'],
    });
    expect(JSON.stringify(letter)).not.toContain(pillar.account);
  });

  it('a wrong key is answered NAK and refused as unauthenticated; a keyed panel in the clear too', async () => {
    // Counted by the panel's own refusals: another test's stray datagram to a recycled port must not count here.
    const mine: string[] = [];
    hub.hub.bus.on('message:refused', (letter) => {
      if (letter.deviceId === panel.id && letter.reason === 'unauthenticated') mine.push(letter.id);
    });
    const before = await refused(hub, 'unauthenticated');
    const wrong = sim({
      account: panel.account,
      key: Buffer.from('FFEEDDCCBBAA99887766554433221100', 'hex'),
    });
    expect((await wrong.alarm(2)).answer?.kind).toBe('NAK');
    const clear = sim({ account: panel.account });
    expect((await clear.alarm(2)).answer?.kind).toBe('NAK');
    await eventually(() => mine.length === 2);
    expect(await refused(hub, 'unauthenticated')).toBeGreaterThanOrEqual(before + 2);
    const letters = (await deadLetters(hub)).filter((letter) => letter.deviceId === panel.id).slice(0, 2);
    expect(letters.map((letter) => letter.problems[0])).toEqual([
      'in the clear, and the account has a key: its messages must be encrypted',
      "the message does not decrypt with the account's key",
    ]);
  });

  it('a panel clock off by more than the window is answered NAK and refused as stale; within it, ACK', async () => {
    const before = await refused(hub, 'stale');
    const pillarSim = sim({ account: pillar.account });
    pillarSim.faults.clockSkewMs = -60_000;
    expect((await pillarSim.testReport()).answer?.kind).toBe('NAK');
    pillarSim.faults.clockSkewMs = 30_000;
    expect((await pillarSim.testReport()).answer?.kind).toBe('NAK');
    pillarSim.faults.clockSkewMs = -30_000;
    expect((await pillarSim.testReport()).answer?.kind).toBe('ACK');
    pillarSim.faults.clockSkewMs = 15_000;
    expect((await pillarSim.testReport()).answer?.kind).toBe('ACK');
    await eventually(async () => (await refused(hub, 'stale')) === before + 2);
  });

  it('an account no panel has, and a token the receiver does not serve, are answered DUH', async () => {
    const before = await refused(hub, 'unknown_device');
    const stranger = sim({ account: 'FFF0' });
    const report = await stranger.alarm(1);
    expect(report.answer).toMatchObject({ kind: 'DUH', account: 'FFF0' });
    await eventually(async () => (await refused(hub, 'unknown_device')) === before + 1);
    const odd = sim({ account: pillar.account });
    expect((await odd.send({ token: 'ZZZ-ABC', data: '1130 01 001' })).answer?.kind).toBe('DUH');
  });

  it('garbage is answered NAK; a dropped connection and slow writes leave the receiver serving', async () => {
    const pillarSim = sim({ account: pillar.account });
    const answer = await pillarSim.garbage();
    expect(answer === undefined ? undefined : readAnswer(answer).kind).toBe('NAK');
    await pillarSim.dropMidMessage();
    pillarSim.faults.slowWriteMs = 2;
    expect((await pillarSim.testReport()).answer?.kind).toBe('ACK');
    pillarSim.faults.slowWriteMs = 0;
    const udp = sim({ account: pillar.account, transport: 'udp' });
    const datagram = await udp.garbage('\x00\x01\x02 not a message');
    expect(datagram === undefined ? undefined : readAnswer(datagram).kind).toBe('NAK');
    expect((await udp.testReport()).answer?.kind).toBe('ACK');
  });

  it('reads each message from its last LF: line noise before it is skipped, a message cut short is garbage', async () => {
    const socket = createConnection({ host: '127.0.0.1', port: hub.hub.siaPort });
    await new Promise((resolve) => socket.once('connect', resolve));
    let heard = '';
    socket.on('data', (chunk: Buffer) => {
      heard += chunk.toString('latin1');
    });
    const pillarSim = sim({ account: pillar.account });
    const message = (zone: number) =>
      pillarSim.encode({ token: 'ADM-CID', data: `1602 01 ${String(zone).padStart(3, '0')}` });
    const cut = message(1).subarray(0, 20);
    // A message cut short of its CR, then a whole one; then LFs and a NUL before a whole one.
    socket.write(Buffer.concat([cut, message(2), Buffer.from('\n\n\0'), message(3)]));
    await eventually(() => (heard.match(/\r/g) ?? []).length === 3);
    socket.destroy();
    const answers = heard
      .split('\r')
      .slice(0, 3)
      .map((answer) => readAnswer(Buffer.from(`${answer}\r`, 'latin1')).kind);
    expect(answers).toEqual(['NAK', 'ACK', 'ACK']);
  });

  it('a message longer than maxFrameBytes ends its connection, a datagram is dropped; the hub stays up', async () => {
    const socket = createConnection({ host: '127.0.0.1', port: hub.hub.siaPort });
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(`\n${'A'.repeat(2_000)}`);
    await closed;
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_limits_total{reason="frame_too_long"}')).toBe(1);
    // A datagram over the limit is dropped unread.
    const udp = createSocket('udp4');
    udp.send(Buffer.alloc(2_000, 0x41), hub.hub.siaPort, '127.0.0.1');
    await eventually(
      async () =>
        (await metricValue(hub.httpUrl, 'gridhub_sia_dc09_limits_total{reason="frame_too_long"}')) === 2,
    );
    udp.close();
    const { body } = await getJson(`${hub.httpUrl}/healthz`);
    expect(body).toMatchObject({ status: 'ok', components: { 'sia-dc09': { state: 'up' } } });
  });

  it('a panel provisioned through the API reports at once; its account is its own, and only panels have one', async () => {
    const devices = `${hub.httpUrl}/api/devices`;
    const provisioned = await postJson(devices, 'demo-integrator-qinghe', {
      id: 'pillar-xijiao-03',
      name: 'Xijiao Grid 3 one-key alarm pillar',
      adapter: 'alarm-panel-cid',
      grid: 'grid-xijiao-03',
      sia: { account: 'C2030', key: '0F0E0D0C0B0A09080706050403020100' },
    });
    expect(provisioned.status).toBe(201);
    const newPillar = sim({
      account: 'C2030',
      key: Buffer.from('0F0E0D0C0B0A09080706050403020100', 'hex'),
      transport: 'udp',
    });
    expect((await newPillar.alarm(1, 'panic')).answer).toMatchObject({ kind: 'ACK', encrypted: true });
    const incident = await incidentOf('pillar-xijiao-03', 'alarm.panic');
    expect(incident.gridId).toBe('grid-xijiao-03');
    const again = await postJson(devices, 'demo-integrator-qinghe', {
      id: 'pillar-xijiao-04',
      name: 'Another',
      adapter: 'alarm-panel-cid',
      grid: 'grid-xijiao-04',
      sia: { account: 'C2030' },
    });
    expect(again.status).toBe(409);
    const withoutAccount = await postJson<{ error: { problems: string[] } }>(
      devices,
      'demo-integrator-qinghe',
      {
        id: 'pillar-xijiao-05',
        name: 'No account',
        adapter: 'alarm-panel-cid',
        grid: 'grid-xijiao-04',
      },
    );
    expect(withoutAccount.status).toBe(400);
    expect(withoutAccount.body.error.problems).toEqual([
      'device.sia: an alarm panel reporting over SIA DC-09 needs its account',
    ]);
    const gateWithAccount = await postJson(devices, 'demo-integrator-qinghe', {
      id: 'gate-xijiao-04-sia',
      name: 'A gate with an account',
      adapter: 'gate-access',
      grid: 'grid-xijiao-04',
      sia: { account: 'C2040' },
    });
    expect(gateWithAccount.status).toBe(400);
    const badKey = await postJson(devices, 'demo-integrator-qinghe', {
      id: 'pillar-xijiao-06',
      name: 'Short key',
      adapter: 'alarm-panel-cid',
      grid: 'grid-xijiao-04',
      sia: { account: 'C2060', key: '0F0E0D0C0B0A0908' },
    });
    expect(badKey.status).toBe(400);
    // The device's view never shows the key.
    const { body } = await getJson(`${devices}/pillar-xijiao-03`, 'demo-admin');
    expect(JSON.stringify(body)).not.toContain('0F0E0D0C');
  });

  it('publishes the answers it gave as a metric', async () => {
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_answers_total{answer="ack"}')).toBeGreaterThan(5);
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_answers_total{answer="nak"}')).toBeGreaterThan(3);
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_answers_total{answer="duh"}')).toBe(2);
  });
});

describe('SIA DC-09 limits: rate per address, connections, idle connections; a store that fails', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({
      deployment: deploymentOf(
        configWith({ maxConnections: 2, idleSeconds: 1, perSource: { messagesPerSecond: 1, burst: 3 } }),
      ),
    });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('drops messages over the per-address rate unanswered, and counts them', async () => {
    const udp = simulator(hub, { account: pillar.account, transport: 'udp', answerTimeoutMs: 400 });
    const answers = [];
    for (let n = 0; n < 5; n++) answers.push((await udp.testReport()).answer?.kind);
    await udp.stop();
    expect(answers.slice(0, 3)).toEqual(['ACK', 'ACK', 'ACK']);
    expect(answers.filter((answer) => answer === undefined).length).toBeGreaterThanOrEqual(1);
    expect(
      await metricValue(hub.httpUrl, 'gridhub_sia_dc09_limits_total{reason="rate"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('refuses connections over maxConnections and closes idle ones', async () => {
    const open = () =>
      new Promise<ReturnType<typeof createConnection>>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port: hub.hub.siaPort }, () => resolve(socket));
        socket.on('error', () => undefined);
      });
    const sockets = [await open(), await open()];
    const third = await open();
    await new Promise((resolve) => third.once('close', resolve));
    await eventually(
      async () =>
        (await metricValue(hub.httpUrl, 'gridhub_sia_dc09_limits_total{reason="connections"}')) === 1,
    );
    await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_limits_total{reason="idle"}')).toBe(2);
  });

  it('a port already taken stops another hub from starting, in one line naming the setting', async () => {
    const taken = hub.hub.siaPort;
    const dataDir = temporaryDirectory();
    try {
      await expect(
        startTestHub({ deployment: deploymentOf(configWith({ port: taken })), dataDir: dataDir.path }),
      ).rejects.toThrow(
        `SIA DC-09 (TCP) port ${taken} is already in use: set receivers.siaDc09.port to a free port`,
      );
    } finally {
      dataDir.remove();
    }
  });

  it('leaves a message unanswered when the hub cannot commit it, for the panel to send again', async () => {
    // The address's bucket refills at one message a second.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await hub.testHandle.store.stop();
    const tcp = simulator(hub, { account: pillar.account, answerTimeoutMs: 1_000 });
    const report = await tcp.alarm(2);
    await tcp.stop();
    expect(report.answer).toBeUndefined();
    expect(await metricValue(hub.httpUrl, 'gridhub_sia_dc09_answers_total{answer="none"}')).toBe(1);
  });
});

/**
 * The published messages, replayed as they were sent. Two of them share an account, one in the clear and one
 * encrypted: a panel with a key that sends in the clear is refused (a downgrade), and one without a key cannot send
 * encrypted. So the replay runs twice, once with the keys the sources give and once with every panel keyless, and
 * each message must be acknowledged in the one that fits it and answered NAK in the other.
 */
for (const keys of ['as published', 'none'] as const) {
  describe(`SIA DC-09: messages real panels and public projects published, over TCP and UDP (keys: ${keys})`, () => {
    let hub: TestHub;
    const clock = movableClock();
    const events: DeviceEvent[] = [];
    const accounts = [...new Set(publicMessages.map((message) => message.account))];
    const deviceOf = (account: string) => `replayed-panel-${account.toLowerCase()}`;
    const keyOf = (account: string) =>
      keys === 'none'
        ? undefined
        : publicMessages.find((message) => message.account === account && message.key !== undefined)?.key;

    beforeAll(async () => {
      const devices = accounts.map((account) => {
        const key = keyOf(account);
        return {
          id: deviceOf(account),
          name: `Replayed panel ${account}`,
          adapter: 'alarm-panel-cid',
          grid: 'grid-xijiao-01',
          sia: { account, ...(key === undefined ? {} : { key: key.value, keyEncoding: key.encoding }) },
        };
      });
      hub = await startTestHub({
        deployment: deploymentOf(configWith({}, devices as ConfigFile['devices'])),
        clock: clock.now,
      });
      hub.hub.bus.on('device:event', (event) => {
        events.push(event);
      });
    });

    afterAll(async () => {
      await hub?.stop();
    });

    async function exchange(transport: 'tcp' | 'udp', bytes: string): Promise<ReturnType<typeof readAnswer>> {
      const sim = simulator(hub, { account: '000', transport });
      try {
        const raw = await sim.garbage(Buffer.from(bytes, 'latin1'));
        if (raw === undefined) throw new Error('no answer');
        return readAnswer(raw);
      } finally {
        await sim.stop();
      }
    }

    for (const transport of ['tcp', 'udp'] as const) {
      for (const message of publicMessages) {
        const fits = (message.key === undefined) === (keyOf(message.account) === undefined);
        it(`${transport}: ${message.name} is ${fits ? 'acknowledged and decoded' : 'answered NAK'}`, async () => {
          // The hub's clock at the message's own time, as if it had just been sent.
          if (message.says.time !== null) clock.moveOn(message.says.time + 2_000 - clock.now());
          const count = events.length;
          const answer = await exchange(transport, message.bytes);
          if (!fits) {
            expect(answer).toMatchObject({ kind: 'NAK', seq: '0000', intact: true });
            return;
          }
          expect(answer).toMatchObject({
            kind: 'ACK',
            seq: String(message.says.seq).padStart(4, '0'),
            intact: true,
          });
          expect(answer.account).toBe(message.account);
          await eventually(() => events.length >= count + message.events.length);
          // The clock jumps between the messages' years: liveness says online again, which is not the message's.
          const decoded = events
            .slice(count)
            .filter(
              (event) => event.deviceId === deviceOf(message.account) && !event.type.startsWith('device.'),
            );
          expect(decoded.map((event) => ({ type: event.type, attributes: event.attributes }))).toEqual(
            message.events,
          );
        });
      }
      for (const message of publicMalformedMessages) {
        it(`${transport}: ${message.name} is answered NAK`, async () => {
          expect((await exchange(transport, message.bytes)).kind).toBe('NAK');
        });
      }
    }
  });
}
