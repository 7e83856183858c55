import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { loadDeployment } from '../../src/config/load.ts';
import type { PolygonCoordinates } from '../../src/core/jurisdiction.ts';
import { boundsOf, polygonContains } from '../../src/jurisdiction/geo.ts';

const demoPath = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));
const { jurisdiction } = loadDeployment(demoPath, adapterMap(adapters));

/** Checks a point against a polygon as the hub does: bounds first, then the rings. */
function contains(polygon: PolygonCoordinates, lon: number, lat: number): boolean {
  return polygonContains(polygon, boundsOf(polygon), lon, lat);
}

describe('polygonContains', () => {
  const square: PolygonCoordinates = [
    [
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
      [0, 0],
    ],
  ];

  it('finds a point inside a square', () => {
    expect(contains(square, 5, 5)).toBe(true);
    expect(contains(square, 0.5, 9.5)).toBe(true);
  });

  it('rejects points outside the square on every side', () => {
    expect(contains(square, -1, 5)).toBe(false);
    expect(contains(square, 11, 5)).toBe(false);
    expect(contains(square, 5, -1)).toBe(false);
    expect(contains(square, 5, 11)).toBe(false);
  });

  it('rejects a point outside the bounds it is given, before looking at the rings', () => {
    expect(boundsOf(square)).toEqual([0, 0, 10, 10]);
    // Bounds that exclude the point refuse it even though the ring contains it.
    expect(polygonContains(square, [6, 6, 10, 10], 5, 5)).toBe(false);
  });

  it('treats a point in a hole as outside and a point between hole and outer ring as inside', () => {
    const withHole: PolygonCoordinates = [
      [
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 10],
        [0, 0],
      ],
      [
        [4, 4],
        [4, 6],
        [6, 6],
        [6, 4],
        [4, 4],
      ],
    ];
    expect(contains(withHole, 5, 5)).toBe(false);
    expect(contains(withHole, 2, 2)).toBe(true);
    expect(contains(withHole, 8, 5)).toBe(true);
    expect(contains(withHole, 12, 5)).toBe(false);
  });

  it('follows a concave outline, refusing a point in its notch', () => {
    // A "U": the notch between the arms, x 4..6 and y 3..10, is outside.
    const u: PolygonCoordinates = [
      [
        [0, 0],
        [10, 0],
        [10, 10],
        [6, 10],
        [6, 3],
        [4, 3],
        [4, 10],
        [0, 10],
        [0, 0],
      ],
    ];
    expect(contains(u, 5, 6)).toBe(false);
    expect(contains(u, 2, 6)).toBe(true);
    expect(contains(u, 8, 6)).toBe(true);
    expect(contains(u, 5, 1)).toBe(true);
  });

  it('finds nothing in a polygon without rings', () => {
    expect(polygonContains([], [0, 0, 10, 10], 5, 5)).toBe(false);
  });
});

describe('Jurisdiction of the demo', () => {
  it('locates a point in the grid whose boundary contains it', () => {
    expect(jurisdiction.locate(116.304342, 39.930992)?.ref.id).toBe('grid-xijiao-01');
    expect(jurisdiction.locate(116.3133, 39.933034)?.ref.id).toBe('grid-xijiao-03');
    expect(jurisdiction.locate(116.338129, 39.912021)?.ref.id).toBe('grid-luming-04');
  });

  it('locates the point on either side of a shared, slanted edge in the right grid', () => {
    // Xijiao grids 1 and 2 share the edge from (116.30675, 39.9298) to (116.3065, 39.9341).
    expect(jurisdiction.locate(116.3066, 39.932)?.ref.id).toBe('grid-xijiao-01');
    expect(jurisdiction.locate(116.3068, 39.932)?.ref.id).toBe('grid-xijiao-02');
  });

  it('locates nothing outside every grid', () => {
    expect(jurisdiction.locate(0, 0)).toBeUndefined();
    // Between the two streets' blocks: east of Zhenxing, north of Luming.
    expect(jurisdiction.locate(116.33, 39.925)).toBeUndefined();
  });

  it('gives each grid the chain [grid, community, street, district], grid first', () => {
    const grid = jurisdiction.grid('grid-zhenxing-03');
    expect(grid?.chain.map((ref) => [ref.id, ref.level])).toEqual([
      ['grid-zhenxing-03', 'grid'],
      ['community-zhenxing', 'community'],
      ['street-liushuwan', 'street'],
      ['district-qinghe', 'district'],
    ]);
    expect(grid?.ref).toBe(grid?.chain[0]);
    expect(grid?.chain[0]?.name).toBe('振兴第3网格 Zhenxing Grid 3');
  });

  it('gives every grid a four-level chain ending at the root', () => {
    const grids = [...jurisdiction.grids];
    expect(grids.length).toBeGreaterThanOrEqual(12);
    for (const grid of grids) {
      expect(grid.chain.map((ref) => ref.level)).toEqual(['grid', 'community', 'street', 'district']);
      expect(grid.chain[3]).toEqual(jurisdiction.root);
    }
  });

  it('describes the root as the district', () => {
    expect(jurisdiction.root).toEqual({
      id: 'district-qinghe',
      name: '清河区 Qinghe District',
      level: 'district',
    });
  });

  it('tells whether a node is within another', () => {
    expect(jurisdiction.isWithin('grid-luming-02', 'community-luming')).toBe(true);
    expect(jurisdiction.isWithin('grid-luming-02', 'street-tianmushan')).toBe(true);
    expect(jurisdiction.isWithin('grid-luming-02', 'district-qinghe')).toBe(true);
    expect(jurisdiction.isWithin('community-xijiao', 'street-liushuwan')).toBe(true);
  });

  it('counts a node as within itself', () => {
    expect(jurisdiction.isWithin('grid-luming-02', 'grid-luming-02')).toBe(true);
    expect(jurisdiction.isWithin('district-qinghe', 'district-qinghe')).toBe(true);
  });

  it('does not count a node as within a sibling, a cousin or its own descendant', () => {
    expect(jurisdiction.isWithin('grid-luming-02', 'grid-luming-01')).toBe(false);
    expect(jurisdiction.isWithin('grid-luming-02', 'community-xijiao')).toBe(false);
    expect(jurisdiction.isWithin('grid-xijiao-01', 'street-tianmushan')).toBe(false);
    expect(jurisdiction.isWithin('street-liushuwan', 'grid-xijiao-01')).toBe(false);
  });

  it('does not count an unknown node as within anything', () => {
    expect(jurisdiction.isWithin('grid-nowhere', 'district-qinghe')).toBe(false);
    expect(jurisdiction.isWithin('grid-xijiao-01', 'district-nowhere')).toBe(false);
  });

  it('gives the ancestry of a community as itself, its street and the district', () => {
    expect(jurisdiction.ancestry('community-luming').map((ref) => ref.id)).toEqual([
      'community-luming',
      'street-tianmushan',
      'district-qinghe',
    ]);
  });

  it('gives the ancestry of the root as the root alone, and of an unknown id as nothing', () => {
    expect(jurisdiction.ancestry('district-qinghe')).toEqual([jurisdiction.root]);
    expect(jurisdiction.ancestry('grid-nowhere')).toEqual([]);
  });

  it('finds nodes of every level by id, and grids only among grids', () => {
    expect(jurisdiction.node('street-tianmushan')?.level).toBe('street');
    expect(jurisdiction.node('grid-luming-01')?.level).toBe('grid');
    expect(jurisdiction.node('nowhere')).toBeUndefined();
    expect(jurisdiction.grid('grid-luming-01')?.ref.id).toBe('grid-luming-01');
    expect(jurisdiction.grid('community-luming')).toBeUndefined();
  });
});
