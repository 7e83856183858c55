import gcoord from 'gcoord';
import type { Arrival, FieldPosition } from '../core/incident.ts';

/** The systems the configuration's coordinates may be in (config map.coordinates). */
export type CoordinateSystem = 'WGS84' | 'GCJ02';

/** Mean Earth radius (IUGG), metres: haversine's error against the ellipsoid stays under 0.5 %. */
const earthRadiusM = 6_371_008.8;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

/** Great-circle distance in metres between two [lon, lat] points of one system (haversine). */
export function haversineM(a: readonly [number, number], b: readonly [number, number]): number {
  const dLat = radians(b[1] - a[1]);
  const dLon = radians(b[0] - a[0]);
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(radians(a[1])) * Math.cos(radians(b[1])) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A [lon, lat] of the configuration's system in WGS84, the phones' (GCJ-02 is offset by up to ~700 m). */
export function toWgs84(point: readonly [number, number], from: CoordinateSystem): [number, number] {
  if (from === 'WGS84') return [point[0], point[1]];
  const [lon, lat] = gcoord.transform([point[0], point[1]], gcoord.GCJ02, gcoord.WGS84) as [number, number];
  return [lon, lat];
}

export interface ArrivalSettings {
  /** The system of the devices' locations (config map.coordinates). */
  readonly coordinates: CoordinateSystem;
  /** config field.arrivalRadiusM. */
  readonly radiusM: number;
  /** config field.keepPositions. */
  readonly keepPositions: boolean;
}

/**
 * Judges a phone's position against a device's location: the distance (metres, rounded), and far when it exceeds
 * the radius plus the position's accuracy (a fix of ±500 m 400 m away may well be on site). The position is kept
 * only where the deployment keeps positions.
 */
export function judgeArrival(
  deviceLocation: readonly [number, number],
  position: FieldPosition,
  settings: ArrivalSettings,
): Arrival {
  const distanceM = Math.round(
    haversineM(toWgs84(deviceLocation, settings.coordinates), [position.lon, position.lat]),
  );
  const accuracyM = Math.round(position.accuracyM ?? 0);
  return {
    distanceM,
    accuracyM,
    far: distanceM > settings.radiusM + accuracyM,
    ...(settings.keepPositions ? { position: { ...position } } : {}),
  };
}
