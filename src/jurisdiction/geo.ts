import type { Bounds, PolygonCoordinates } from '../core/jurisdiction.ts';

export function boundsOf(polygon: PolygonCoordinates): Bounds {
  let minLon = Number.POSITIVE_INFINITY;
  let minLat = Number.POSITIVE_INFINITY;
  let maxLon = Number.NEGATIVE_INFINITY;
  let maxLat = Number.NEGATIVE_INFINITY;
  for (const [lon, lat] of polygon[0] ?? []) {
    if (lon < minLon) minLon = lon;
    if (lon > maxLon) maxLon = lon;
    if (lat < minLat) minLat = lat;
    if (lat > maxLat) maxLat = lat;
  }
  return [minLon, minLat, maxLon, maxLat];
}

/** Even-odd ray casting over one ring. A point exactly on an edge may fall either way. */
function ringContains(ring: readonly (readonly [number, number])[], lon: number, lat: number): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i];
    const b = ring[j];
    if (a === undefined || b === undefined) continue;
    const [xi, yi] = a;
    const [xj, yj] = b;
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** GeoJSON semantics: inside the outer ring and outside every hole. */
export function polygonContains(
  polygon: PolygonCoordinates,
  bounds: Bounds,
  lon: number,
  lat: number,
): boolean {
  if (lon < bounds[0] || lat < bounds[1] || lon > bounds[2] || lat > bounds[3]) return false;
  const [outer, ...holes] = polygon;
  if (outer === undefined || !ringContains(outer, lon, lat)) return false;
  return !holes.some((hole) => ringContains(hole, lon, lat));
}
