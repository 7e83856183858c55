/**
 * Who is asking: the authenticated user behind a REST call or a Socket.IO connection. A `department` user (城管,
 * 市政, 派出所: config `departments`, #25) works outside the grid system: they see only the cases handed to them for
 * coordination, and act only on those.
 */
export const roles = [
  'duty_officer',
  'grid_chief',
  'grid_worker',
  'integrator',
  'admin',
  'department',
] as const;
export type Role = (typeof roles)[number];

/** The roles of the grid system's own people: every role but `department`. */
export const gridRoles: readonly Role[] = roles.filter((role) => role !== 'department');

export interface Principal {
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
  /**
   * The jurisdiction nodes this user may see, each with everything under it.
   * A duty officer, integrator, admin or department user has one node; a grid worker or grid chief has their grids.
   */
  readonly scopeNodeIds: readonly string[];
  /**
   * The login session a JWT belongs to: present for a person's JWT, absent for an API token (a machine's, which
   * lasts until the token is removed or its user disabled).
   */
  readonly session?: { readonly id: string; readonly expiresAt: string };
}
