/** The jurisdiction is a tree of places: district → street → community → grid (domain.md). */
export const jurisdictionLevels = ['district', 'street', 'community', 'grid'] as const;
export type JurisdictionLevel = (typeof jurisdictionLevels)[number];

/** A node of the jurisdiction as it travels inside incidents and pushes: small and self-describing. */
export interface PlaceRef {
  readonly id: string;
  readonly name: string;
  readonly level: JurisdictionLevel;
}

/**
 * The chain from a grid up to the root, grid first: [grid, community, street, district].
 * Built once per grid at start-up and shared by every incident of that grid.
 */
export type GridChain = readonly PlaceRef[];

/** GeoJSON Polygon coordinates: rings of [lon, lat]; the first ring is the outer boundary, the rest are holes. */
export type PolygonCoordinates = readonly (readonly (readonly [number, number])[])[];

/** Axis-aligned bounds [minLon, minLat, maxLon, maxLat], checked first so most polygons are rejected cheaply. */
export type Bounds = readonly [number, number, number, number];

/** A grid as the hub places devices and incidents in it: its reference, its chain up to the root, its boundary. */
export interface GridEntry {
  readonly ref: PlaceRef;
  readonly chain: GridChain;
  readonly boundary: PolygonCoordinates;
  readonly bounds: Bounds;
}

/** True when a grid's chain passes through one of the scope nodes: the one scope check for incidents and devices. */
export function chainInScope(chain: GridChain, scopeNodeIds: readonly string[]): boolean {
  return chain.some((place) => scopeNodeIds.includes(place.id));
}

/**
 * The jurisdiction as an operator describes it in the config file: a district of streets of communities of grids,
 * each grid with its boundary. The config schema's places are these, field for field (config/schema.ts checks it
 * at compile time).
 */
export interface PlaceDescription {
  /** Unique across the whole jurisdiction. */
  readonly id: string;
  readonly name: string;
}

export interface DistrictDescription extends PlaceDescription {
  readonly level: 'district';
  readonly children: StreetDescription[];
}

export interface StreetDescription extends PlaceDescription {
  readonly level: 'street';
  readonly children: CommunityDescription[];
}

export interface CommunityDescription extends PlaceDescription {
  readonly level: 'community';
  readonly children: GridDescription[];
}

export interface GridDescription extends PlaceDescription {
  readonly level: 'grid';
  /** Devices given by location are placed by it. */
  readonly boundary: PolygonDescription;
}

/** A GeoJSON Polygon. */
export interface PolygonDescription {
  readonly type: 'Polygon';
  readonly coordinates: PolygonCoordinates;
}
