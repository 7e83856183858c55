import type { UserConfig } from '../config/schema.ts';
import type { Principal } from '../core/principal.ts';

/** The principal of a configured user: what they may see follows from their role and their scope or grids. */
export function principalOf(user: UserConfig): Principal {
  return Object.freeze({
    userId: user.id,
    name: user.name,
    role: user.role,
    scopeNodeIds: Object.freeze(user.grids ?? (user.scope === undefined ? [] : [user.scope])),
  });
}
