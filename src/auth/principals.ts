import type { Principal } from '../core/principal.ts';
import type { UserDescription } from '../core/user.ts';

/** The principal of a configured user: what they may see follows from their role and their scope or grids. */
export function principalOf(user: UserDescription): Principal {
  return Object.freeze({
    userId: user.id,
    name: user.name,
    role: user.role,
    scopeNodeIds: Object.freeze(user.grids ?? (user.scope === undefined ? [] : [user.scope])),
  });
}
