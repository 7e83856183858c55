import type { DeviceAdapter } from './core/adapter.ts';
import { GridhubError } from './core/errors.ts';

/** Indexes the adapter list by id; two adapters with one id are a contract fault, stopped at start-up. */
export function adapterMap(list: readonly DeviceAdapter[]): ReadonlyMap<string, DeviceAdapter> {
  const byId = new Map<string, DeviceAdapter>();
  for (const adapter of list) {
    if (byId.has(adapter.id)) {
      throw new GridhubError('GRIDHUB_ADAPTER_INVALID', `two device adapters have the id "${adapter.id}"`);
    }
    byId.set(adapter.id, adapter);
  }
  return byId;
}
