import gcoord from 'gcoord';
import type { GridEntry } from '../core/jurisdiction.ts';
import type { CoordinateSystem } from '../field/geo.ts';

/** What placing a position needs of the jurisdiction. */
export interface GridLookup {
  locate(lon: number, lat: number): GridEntry | undefined;
  grid(id: string): GridEntry | undefined;
}

/** A WGS84 position (the phone's) in the configuration's system (map.coordinates), where grid boundaries are. */
export function toConfigSystem(position: readonly [number, number], to: CoordinateSystem): [number, number] {
  if (to === 'WGS84') return [position[0], position[1]];
  return gcoord.transform([position[0], position[1]], gcoord.WGS84, gcoord.GCJ02) as [number, number];
}

export type Placement =
  | { readonly grid: GridEntry; readonly located: GridEntry | undefined }
  | { readonly problem: string };

/**
 * The grid of a field report (#25 point 1): the grid whose polygon holds the phone's position (point in polygon),
 * unless the worker corrects it by naming another of their own grids (a fix near a boundary, or a poor one). With
 * neither a position inside a grid nor a correction, there is no grid to place it in.
 */
export function placeReport(
  lookup: GridLookup,
  system: CoordinateSystem,
  position: readonly [number, number] | undefined,
  correction: string | undefined,
  ownGrids: readonly string[],
): Placement {
  const located = position === undefined ? undefined : lookup.locate(...toConfigSystem(position, system));
  if (correction !== undefined) {
    const grid = lookup.grid(correction);
    if (grid === undefined || !ownGrids.includes(correction))
      return { problem: `gridId: ${correction} is not one of your grids` };
    return { grid, located };
  }
  if (located === undefined)
    return { problem: 'position: the position is in none of the grids; give gridId among your grids' };
  if (!ownGrids.includes(located.ref.id))
    return { problem: `position: the position is in ${located.ref.id}, not one of your grids; give gridId` };
  return { grid: located, located };
}

/** A reporter's name as a case shows it: the first character and two stars (张三丰 → 张**), never its length. */
export function minimisedName(name: string): string {
  const first = [...name.trim()][0];
  return first === undefined ? '**' : `${first}**`;
}
