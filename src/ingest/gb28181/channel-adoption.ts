import type { DeviceDescription, ResolvedDevice } from '../../core/device.ts';
import type { GridEntry } from '../../core/jurisdiction.ts';
import type { DiscoveredChannel } from './gb28181-server.ts';

/** What adoption needs of the fleet: the parent, and provisioning as the API does it. */
export interface ChannelRegistry {
  get(id: string): ResolvedDevice | undefined;
  byNationalCode(code: string): ResolvedDevice | undefined;
  provision(description: DeviceDescription): Promise<{ device: ResolvedDevice }>;
}

/** The id a channel the hub adopts gets: stable, so a channel listed again is the same device. */
export function adoptedChannelId(code: string): string {
  return `gb-${code}`;
}

/**
 * Makes a gridhub device of a channel a GB/T 28181 device's catalog lists (a camera or alarm input of an NVR): named
 * as the catalog names it, placed in the grid its longitude/latitude lies in (point in polygon), else in its
 * parent's grid, and stored like a device provisioned through the API, so it keeps its id, grid and history across
 * restarts and can be renamed, moved or given `watches` there. Resolves to the device's id.
 */
export async function adoptChannel(
  registry: ChannelRegistry,
  jurisdiction: { locate(lon: number, lat: number): GridEntry | undefined },
  channel: DiscoveredChannel,
): Promise<string | undefined> {
  const existing = registry.byNationalCode(channel.code);
  if (existing !== undefined) return existing.id;
  const parent = registry.get(channel.parentId);
  if (parent === undefined) return undefined;
  const location = channel.location;
  const placed = location !== undefined && jurisdiction.locate(location[0], location[1]) !== undefined;
  const description: DeviceDescription = {
    id: adoptedChannelId(channel.code),
    name: channel.name.slice(0, 64) || channel.code,
    adapter: parent.adapter.id,
    ...(placed ? { location: [location[0], location[1]] } : { grid: parent.grid.ref.id }),
    gb28181: { id: channel.code, parent: parent.id },
  };
  const { device } = await registry.provision(description);
  return device.id;
}
