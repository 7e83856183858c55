/** Who is asking: the authenticated user behind a REST call or a Socket.IO connection. */
export const roles = ['duty_officer', 'grid_chief', 'grid_worker', 'integrator', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
  /**
   * The jurisdiction nodes this user may see, each with everything under it.
   * A duty officer, integrator or admin has one node; a grid worker or grid chief has their grids.
   */
  readonly scopeNodeIds: readonly string[];
  /**
   * The login session a JWT belongs to: present for a person's JWT, absent for an API token (a machine's, which
   * lasts until the token is removed or its user disabled).
   */
  readonly session?: { readonly id: string; readonly expiresAt: string };
}
