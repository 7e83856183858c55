import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { Catalogue, deadlinesWithCatalogue, stageDeadlineMinutes } from '../../src/cases/catalogue.ts';
import { minimisedName, placeReport, toConfigSystem } from '../../src/cases/placement.ts';
import { loadDeployment } from '../../src/config/load.ts';
import { deadlineCategoryOf } from '../../src/core/incident.ts';
import { deadlineMsOf } from '../../src/incidents/incident-actions.ts';

const demoPath = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));
const deployment = loadDeployment(demoPath, adapterMap(adapters));
const catalogue = new Catalogue(deployment.catalogue);
const system = deployment.map.coordinates;

/** A WGS84 point whose configured-system equivalent is the given one (the demo's grids may be GCJ-02). */
function wgs84Near(configPoint: [number, number]): [number, number] {
  const shifted = toConfigSystem(configPoint, system);
  return [2 * configPoint[0] - shifted[0], 2 * configPoint[1] - shifted[1]];
}

describe('the category catalogue', () => {
  it("finds a sub-category's entry with its own overrides and its category's procedure", () => {
    const entry = catalogue.entry('city_environment', 'illegal_structure');
    expect(entry).toMatchObject({
      categoryName: '市容环境',
      subcategoryName: '私搭乱建',
      code: '0101',
      department: { name: '街道综合执法队' },
    });
    expect(entry?.procedure?.steps[0]).toBe('现场拍照取证（处置前）');
    expect(catalogue.entry('city_environment', 'no_such_sub')).toBeUndefined();
    expect(catalogue.entry('no_such_category')).toBeUndefined();
  });

  it("maps the device rules' categories and the standard's codes into it", () => {
    for (const category of deployment.rules.map((rule) => rule.category))
      expect(catalogue.category(category), category).toBeDefined();
    expect(catalogue.byCode('0406')).toEqual({ category: 'sudden_event', subcategory: 'road_waterlogging' });
    expect(catalogue.byCode('05')).toEqual({ category: 'street_order' });
    expect(catalogue.byCode('9999')).toBeUndefined();
  });

  it('feeds deadlines per category and per sub-category into the one lookup, deadlines.categories first', () => {
    const ms = deadlineMsOf(deployment.deadlines);
    expect(ms('sudden_event', 'accept')).toBe(5 * 60_000);
    expect(ms(deadlineCategoryOf({ category: 'sudden_event', subcategory: 'gas_leak' }), 'accept')).toBe(
      2 * 60_000,
    );
    // A sub-category without its own deadlines has its category's.
    expect(ms(deadlineCategoryOf({ category: 'sudden_event', subcategory: 'fire' }), 'resolve')).toBe(
      120 * 60_000,
    );
    expect(ms('advertising/illegal_flyers', 'resolve')).toBe(2880 * 60_000);
    // Unknown: the default.
    expect(ms('nothing_known', 'arrive')).toBe(deployment.deadlines.default.arriveMinutes * 60_000);
    const folded = deadlinesWithCatalogue(
      {
        default: deployment.deadlines.default,
        categories: { sudden_event: { acceptMinutes: 1, arriveMinutes: 1, resolveMinutes: 1 } },
      },
      deployment.catalogue,
    );
    expect(stageDeadlineMinutes(folded, 'sudden_event', 'accept')).toBe(1);
    expect(stageDeadlineMinutes(folded, 'sudden_event/gas_leak', 'accept')).toBe(2);
  });
});

describe('placing a field report', () => {
  const grid1 = deployment.jurisdiction.grid('grid-xijiao-01');
  const grid2 = deployment.jurisdiction.grid('grid-xijiao-02');
  const inside1 = wgs84Near([116.304, 39.932]);

  it('places a WGS84 position in the grid whose polygon holds it', () => {
    const placed = placeReport(deployment.jurisdiction, system, inside1, undefined, ['grid-xijiao-01']);
    expect('grid' in placed && placed.grid.ref.id).toBe('grid-xijiao-01');
    expect(grid1).toBeDefined();
    expect(grid2).toBeDefined();
  });

  it("takes a correction among the worker's grids, and refuses one outside them", () => {
    const corrected = placeReport(deployment.jurisdiction, system, inside1, 'grid-xijiao-02', [
      'grid-xijiao-01',
      'grid-xijiao-02',
    ]);
    expect('grid' in corrected && corrected.grid.ref.id).toBe('grid-xijiao-02');
    expect('grid' in corrected && corrected.located?.ref.id).toBe('grid-xijiao-01');
    const foreign = placeReport(deployment.jurisdiction, system, inside1, 'grid-xijiao-02', [
      'grid-xijiao-01',
    ]);
    expect(foreign).toEqual({ problem: 'gridId: grid-xijiao-02 is not one of your grids' });
  });

  it("refuses a position outside every grid, or in another worker's grid, without a correction", () => {
    expect(
      'problem' in placeReport(deployment.jurisdiction, system, [0, 0], undefined, ['grid-xijiao-01']),
    ).toBe(true);
    const other = placeReport(deployment.jurisdiction, system, inside1, undefined, ['grid-xijiao-02']);
    expect('problem' in other && other.problem).toContain('not one of your grids');
  });
});

describe('minimised names', () => {
  it('keeps the first character and two stars, whatever the length', () => {
    expect(minimisedName('张三丰')).toBe('张**');
    expect(minimisedName('李四')).toBe('李**');
    expect(minimisedName(' Alice Smith ')).toBe('A**');
    expect(minimisedName('')).toBe('**');
  });
});
