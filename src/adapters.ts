import type { DeviceAdapter } from './core/adapter.ts';
import { GridhubError } from './core/errors.ts';

/** Indexes the adapter list by id. A broken contract (two adapters with one id, commands without replies) stops start-up. */
export function adapterMap(list: readonly DeviceAdapter[]): ReadonlyMap<string, DeviceAdapter> {
  const byId = new Map<string, DeviceAdapter>();
  for (const adapter of list) {
    if (byId.has(adapter.id)) {
      throw new GridhubError('GRIDHUB_ADAPTER_INVALID', `two device adapters have the id "${adapter.id}"`);
    }
    // Without a reply decoder every command would time out: the contract needs both or neither.
    if (Object.keys(adapter.commands).length > 0 && adapter.replies === undefined) {
      throw new GridhubError(
        'GRIDHUB_ADAPTER_INVALID',
        `device adapter "${adapter.id}" has commands but no replies decoder`,
      );
    }
    byId.set(adapter.id, adapter);
  }
  return byId;
}
