import { describe, expect, it } from 'vitest';
import { feedMessage } from '../../src/core/feed-message.ts';
import type { Incident } from '../../src/core/incident.ts';

const at = '2026-12-07T08:00:00.000Z';
const base: Incident = {
  id: 'inc_1',
  state: 'on_site',
  title: 'Door forced open',
  category: 'intrusion',
  severity: 'critical',
  device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
  event: { type: 'door.forced_open', occurredAt: at, attributes: {} },
  gridId: 'g1',
  chain: [{ id: 'g1', name: 'G1', level: 'grid' }],
  createdAt: at,
  updatedAt: at,
  occurrences: 1,
  lastOccurredAt: at,
  related: [],
  assignees: ['worker'],
  handler: 'worker',
  responsibleNodeId: 'g1',
  escalations: 0,
  dueAt: null,
  dueStage: null,
  reworks: 0,
  timeline: {},
};
const point = { lon: 116.3, lat: 39.9, accuracyM: 12 };
const placed: Incident = {
  ...base,
  arrival: { distanceM: 850, accuracyM: 12, far: true, position: point },
  evidence: [
    {
      kind: 'photo',
      cameraId: 'gate-1',
      url: '/media/inc_1/photo-1.jpg',
      contentType: 'image/jpeg',
      bytes: 1000,
      capturedAt: at,
      position: point,
    },
    {
      kind: 'snapshot',
      cameraId: 'cam-1',
      url: '/media/inc_1/s.jpg',
      contentType: 'image/jpeg',
      bytes: 9,
      capturedAt: at,
    },
  ] as Incident['evidence'],
};

describe("the outbound feed and a grid worker's position", () => {
  it("carries the arrival's distance and far flag and the photos, never where the phone was", () => {
    for (const message of [
      feedMessage('created', placed),
      feedMessage('updated', { before: placed, after: placed }),
    ]) {
      expect(JSON.stringify(message)).not.toContain('116.3');
      expect(message.after.arrival).toEqual({ distanceM: 850, accuracyM: 12, far: true });
      expect(message.after.evidence?.map((item) => item.url)).toEqual([
        '/media/inc_1/photo-1.jpg',
        '/media/inc_1/s.jpg',
      ]);
    }
  });

  it('passes an incident with no position as it is', () => {
    expect(feedMessage('created', base).after).toBe(base);
  });
});
