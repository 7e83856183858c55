import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import type { Principal } from '../../src/core/principal.ts';
import { Visibility } from '../../src/incidents/visibility.ts';

const at = '2026-12-01T08:00:00.000Z';

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'inc_1',
    state: 'accepted',
    title: 'Door forced open',
    category: 'intrusion',
    severity: 'critical',
    device: { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access' },
    event: { type: 'door.forced_open', occurredAt: at, attributes: {} },
    gridId: 'g1',
    chain: [
      { id: 'g1', name: 'G1', level: 'grid' },
      { id: 'c1', name: 'C1', level: 'community' },
      { id: 'd1', name: 'D1', level: 'district' },
    ],
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
    ...overrides,
  };
}

const principal = (userId: string, role: Principal['role']): Principal => ({
  userId,
  name: userId,
  role,
  scopeNodeIds: ['d1'],
});

describe('who sees a case: department users (#25)', () => {
  const visibility = new Visibility(['offline']);
  const department = principal('cg1', 'department');
  const handOff = { userId: 'cg1', departmentId: 'chengguan', at, note: '占道经营' };
  const handed = incident({ coordinators: [handOff] });

  it('see the cases handed to them, done or not, and nothing else of their area', () => {
    expect(visibility.canSee(department, handed)).toBe(true);
    expect(
      visibility.canSee(department, {
        ...handed,
        coordinators: [{ ...handOff, doneAt: at }],
      }),
    ).toBe(true);
    expect(visibility.canSee(department, incident())).toBe(false);
    expect(visibility.canSee(department, incident({ category: 'offline' }))).toBe(false);
    expect(visibility.canSee(department, incident({ assignees: ['cg1'] }))).toBe(false);
    expect(
      visibility.canSee(
        department,
        incident({ coordinators: [{ userId: 'cg2', departmentId: 'chengguan', at, note: 'x' }] }),
      ),
    ).toBe(false);
  });

  it('outside their scope see nothing, even a case naming them', () => {
    expect(visibility.canSee({ ...department, scopeNodeIds: ['d2'] }, handed)).toBe(false);
  });

  it('integrators keep device health and what is dispatched to them, not handed cases', () => {
    const integrator = principal('cg1', 'integrator');
    expect(visibility.canSee(integrator, incident({ category: 'offline' }))).toBe(true);
    expect(visibility.canSee(integrator, incident({ assignees: ['cg1'] }))).toBe(true);
    expect(visibility.canSee(integrator, handed)).toBe(false);
  });
});
