import { type Incident, incidentInScope } from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';

/**
 * Who may see an incident: the one rule behind every endpoint, every push and every media file.
 *
 * - Duty officers and admins: everything under their node.
 * - Grid workers and grid chiefs: everything in their grids.
 * - Integrators: device-health incidents in their area, and anything dispatched to them. Residents' cases are
 *   not theirs to read.
 * - Department users (#25): only the cases handed to them for coordination, nothing else.
 */
export class Visibility {
  readonly #deviceHealth: ReadonlySet<string>;

  constructor(deviceHealthCategories: readonly string[]) {
    this.#deviceHealth = new Set(deviceHealthCategories);
  }

  isDeviceHealth(category: string): boolean {
    return this.#deviceHealth.has(category);
  }

  canSee(principal: Principal, incident: Incident): boolean {
    if (!incidentInScope(incident, principal.scopeNodeIds)) return false;
    if (principal.role === 'department')
      return incident.coordinators?.some((entry) => entry.userId === principal.userId) ?? false;
    if (principal.role !== 'integrator') return true;
    return this.#deviceHealth.has(incident.category) || incident.assignees.includes(principal.userId);
  }
}
