import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  demoSecret,
  deploymentOf,
  getJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const xijiaoGrid1Chain = [
  { id: 'grid-xijiao-01', name: '西郊第1网格 Xijiao Grid 1', level: 'grid' },
  { id: 'community-xijiao', name: '西郊社区 Xijiao Community', level: 'community' },
  { id: 'street-liushuwan', name: '柳树湾街道 Liushuwan Street', level: 'street' },
  { id: 'district-qinghe', name: '清河区 Qinghe District', level: 'district' },
];

const isoTime = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

// The embedded broker in a thread of its own, and in the hub's thread (mqtt.brokerThread: what one core gets): the
// same path from a device to the people who watch its grid, either way.
describe.each(['always', 'never'] as const)(
  'a gate event becomes a grid-tagged incident pushed to exactly the people who watch that grid (broker thread: %s)',
  (brokerThread) => {
    let hub: TestHub;
    let communityOfficer: RecordingClient;
    let gridWorker: RecordingClient;
    let otherGridWorker: RecordingClient;
    let otherStreetOfficer: RecordingClient;
    let northGate: GateSimulator;
    let grid2Gate: GateSimulator;
    const deviceClock = () => new Date('2026-11-22T08:00:00.000Z');

    beforeAll(async () => {
      // Without the demo's correlation, so each door below raises its own incident (correlation has its own tests).
      const config = demoConfig();
      hub = await startTestHub({
        deployment: deploymentOf({ ...config, correlations: [], mqtt: { ...config.mqtt, brokerThread } }),
      });
      const health = (await getJson(`${hub.httpUrl}/healthz`)).body as {
        components: { mqtt: { thread: string } };
      };
      expect(health.components.mqtt.thread).toBe(brokerThread === 'always' ? 'broker' : 'hub');
      communityOfficer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
      gridWorker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-01');
      otherGridWorker = await connectClient(hub.httpUrl, 'demo-worker-xijiao-02');
      otherStreetOfficer = await connectClient(hub.httpUrl, 'demo-officer-tianmushan');
      northGate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north', { clock: deviceClock });
      grid2Gate = demoGate(hub.mqttUrl, 'gate-xijiao-02-east', { clock: deviceClock });
      await northGate.start();
      await grid2Gate.start();
    });

    afterAll(async () => {
      for (const client of [communityOfficer, gridWorker, otherGridWorker, otherStreetOfficer])
        client?.close();
      await northGate?.stop();
      await grid2Gate?.stop();
      await hub?.stop();
    });

    it('pushes a forced door to the community officer and the grid worker with the exact incident', async () => {
      await northGate.forceDoor(2);
      const expected = {
        id: expect.stringMatching(/^inc_[0-9a-z]{17}$/),
        // Routed at once to the grid's worker on duty (the demo has no roster for this grid: all its workers).
        state: 'dispatched',
        title: 'Door forced open',
        category: 'intrusion',
        severity: 'critical',
        device: {
          id: 'gate-xijiao-01-north',
          name: '西郊1网格北门门禁 Xijiao Grid 1 north gate',
          adapter: 'gate-access',
        },
        event: { type: 'door.forced_open', occurredAt: '2026-11-22T08:00:00.000Z', attributes: { door: 2 } },
        gridId: 'grid-xijiao-01',
        chain: xijiaoGrid1Chain,
        createdAt: isoTime,
        updatedAt: isoTime,
        occurrences: 1,
        lastOccurredAt: '2026-11-22T08:00:00.000Z',
        related: [],
        assignees: ['worker-xijiao-01'],
        handler: null,
        responsibleNodeId: 'grid-xijiao-01',
        escalations: 0,
        dueStage: 'accept',
        dueAt: isoTime,
        reworks: 0,
        timeline: { dispatchedAt: isoTime, acceptBy: isoTime, resolveBy: isoTime },
      };
      const toOfficer = (await communityOfficer.nth('incident:new', 1)) as Incident;
      const toWorker = (await gridWorker.nth('incident:new', 1)) as Incident;
      expect(toOfficer).toEqual(expected);
      expect(toWorker).toEqual(toOfficer);
      expect(toOfficer.updatedAt).toBe(toOfficer.createdAt);
      // The demo's intrusion deadlines: accept within 5 minutes, resolve within 2 hours of creation.
      expect(Date.parse(toOfficer.dueAt as string) - Date.parse(toOfficer.createdAt)).toBe(5 * 60_000);
      expect(Date.parse(toOfficer.timeline.resolveBy as string) - Date.parse(toOfficer.createdAt)).toBe(
        120 * 60_000,
      );
    });

    it("sends nothing of grid 1 to grid 2's worker or to the other street's officer", async () => {
      // A barrier: grid 2's next incident reaches its worker after anything of grid 1 would have.
      await grid2Gate.holdDoor(1, 300);
      const first = (await otherGridWorker.nth('incident:new', 1)) as Incident;
      expect(first.gridId).toBe('grid-xijiao-02');
      expect(first.event).toEqual({
        type: 'door.held_open',
        occurredAt: '2026-11-22T08:00:00.000Z',
        attributes: { door: 1, heldSeconds: 300 },
      });
      await communityOfficer.nth('incident:new', 2);
      expect(gridWorker.of('incident:new').map((incident) => (incident as Incident).gridId)).toEqual([
        'grid-xijiao-01',
      ]);
      expect(otherGridWorker.of('incident:new')).toHaveLength(1);
      expect(otherStreetOfficer.of('incident:new')).toHaveLength(0);
    });

    it('minimises the card number of a denied access and never pushes, stores or logs the raw number', async () => {
      await northGate.deny({ card: '31415926535', reason: 'EXPIRED', direction: 'out' });
      const incident = (await communityOfficer.nth('incident:new', 3)) as Incident;
      expect(incident.event).toEqual({
        type: 'access.denied',
        occurredAt: '2026-11-22T08:00:00.000Z',
        attributes: {
          door: 1,
          direction: 'out',
          credentialType: 'card',
          credential: '****6535',
          reason: 'expired',
        },
      });
      expect(incident.severity).toBe('info');
      const stored = await getJson(`${hub.httpUrl}/api/incidents/${incident.id}`, 'demo-officer-xijiao');
      expect(JSON.stringify(stored.body)).not.toContain('31415926535');
      expect(hub.logs.text).not.toContain('31415926535');
    });

    it('records a granted access without raising an incident', async () => {
      const before = communityOfficer.of('incident:new').length;
      await northGate.grant({ card: '27182818284' });
      await northGate.tamper('reader');
      const tamper = (await communityOfficer.nth('incident:new', before + 1)) as Incident;
      expect(tamper.event.type).toBe('device.tamper');
      expect(tamper.severity).toBe('major');
      expect(communityOfficer.of('incident:new')).toHaveLength(before + 1);
    });

    it('places a device given only by lon/lat into the grid polygon that contains it', async () => {
      const southGate = demoGate(hub.mqttUrl, 'gate-xijiao-01-south');
      await southGate.start();
      try {
        const before = gridWorker.of('incident:new').length;
        await southGate.forceDoor();
        const incident = (await gridWorker.nth('incident:new', before + 1)) as Incident;
        expect(incident.device.id).toBe('gate-xijiao-01-south');
        expect(incident.gridId).toBe('grid-xijiao-01');
        expect(incident.chain).toEqual(xijiaoGrid1Chain);
      } finally {
        await southGate.stop();
      }
    });

    it('accepts device events over MQTT on WebSocket at /mqtt of the HTTP port', async () => {
      const overWebSocket = new GateSimulator({
        url: `${hub.httpUrl.replace('http', 'ws')}/mqtt`,
        // Its own device: two connections with one client id take the session from each other.
        deviceId: 'gate-xijiao-01-south',
        secret: demoSecret('gate-xijiao-01-south'),
      });
      await overWebSocket.start();
      try {
        const before = gridWorker.of('incident:new').length;
        await overWebSocket.forceDoor(3);
        const incident = (await gridWorker.nth('incident:new', before + 1)) as Incident;
        expect(incident.event.attributes).toEqual({ door: 3 });
      } finally {
        await overWebSocket.stop();
      }
    });

    it('lists incidents over REST only within the caller’s scope', async () => {
      const officer = await getJson(`${hub.httpUrl}/api/incidents`, 'demo-officer-xijiao');
      const otherStreet = await getJson(`${hub.httpUrl}/api/incidents`, 'demo-officer-tianmushan');
      const worker2 = await getJson(`${hub.httpUrl}/api/incidents`, 'demo-worker-xijiao-02');
      const officerIncidents = (officer.body as { incidents: Incident[] }).incidents;
      expect(officerIncidents.length).toBe(communityOfficer.of('incident:new').length);
      expect((otherStreet.body as { incidents: Incident[] }).incidents).toEqual([]);
      expect(
        (worker2.body as { incidents: Incident[] }).incidents.map((incident) => incident.gridId),
      ).toEqual(['grid-xijiao-02']);
      const grid1Incident = officerIncidents.find(
        (incident) => incident.gridId === 'grid-xijiao-01',
      ) as Incident;
      const forbidden = await getJson(
        `${hub.httpUrl}/api/incidents/${grid1Incident.id}`,
        'demo-worker-xijiao-02',
      );
      expect(forbidden.status).toBe(404);
      const anonymous = await getJson(`${hub.httpUrl}/api/incidents`);
      expect(anonymous.status).toBe(401);
    });

    it('refuses a Socket.IO connection without a valid token', async () => {
      await expect(connectClient(hub.httpUrl, 'not-a-real-token')).rejects.toThrow(/unauthorized/);
      const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/gridhub_connected_clients 4\n/);
      expect(metrics).toMatch(/gridhub_incidents_created_total\{severity="critical"\} [3-9]\n/);
    });
  },
);
