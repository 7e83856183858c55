import type {
  CommunityDescription,
  DistrictDescription,
  GridDescription,
  GridEntry,
  PlaceRef,
  PolygonCoordinates,
  StreetDescription,
} from '../core/jurisdiction.ts';
import { boundsOf, polygonContains } from './geo.ts';

type TreeNode = DistrictDescription | StreetDescription | CommunityDescription | GridDescription;

interface NodeEntry {
  readonly ref: PlaceRef;
  readonly parentId: string | undefined;
}

/**
 * The jurisdiction tree, indexed for the questions the hub asks: which grid contains this point, what is a
 * grid's chain up to the root, is this node under that one. Built once from the validated config.
 */
export class Jurisdiction {
  readonly root: PlaceRef;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #grids = new Map<string, GridEntry>();

  constructor(tree: DistrictDescription) {
    this.root = { id: tree.id, name: tree.name, level: tree.level };
    const boundaries = new Map<string, PolygonCoordinates>();
    const visit = (node: TreeNode, parentId: string | undefined): void => {
      this.#nodes.set(node.id, {
        ref: Object.freeze({ id: node.id, name: node.name, level: node.level }),
        parentId,
      });
      if ('boundary' in node) boundaries.set(node.id, node.boundary.coordinates);
      if ('children' in node) for (const child of node.children) visit(child, node.id);
    };
    visit(tree, undefined);
    // Chains are built after the walk, when every ancestor is indexed.
    for (const [id, boundary] of boundaries) {
      const chain = Object.freeze(this.ancestry(id));
      this.#grids.set(id, { ref: chain[0] as PlaceRef, chain, boundary, bounds: boundsOf(boundary) });
    }
  }

  node(id: string): PlaceRef | undefined {
    return this.#nodes.get(id)?.ref;
  }

  grid(id: string): GridEntry | undefined {
    return this.#grids.get(id);
  }

  get grids(): IterableIterator<GridEntry> {
    return this.#grids.values();
  }

  get nodes(): IterableIterator<PlaceRef> {
    return [...this.#nodes.values()].map((entry) => entry.ref).values();
  }

  /** The node and its ancestors, the node first. */
  ancestry(id: string): PlaceRef[] {
    const chain: PlaceRef[] = [];
    for (
      let entry = this.#nodes.get(id);
      entry;
      entry = entry.parentId ? this.#nodes.get(entry.parentId) : undefined
    ) {
      chain.push(entry.ref);
    }
    return chain;
  }

  /** True when `id` is `ancestorId` or lies under it. */
  isWithin(id: string, ancestorId: string): boolean {
    return this.ancestry(id).some((ref) => ref.id === ancestorId);
  }

  /** The grid whose polygon contains the point, or undefined when none does. */
  locate(lon: number, lat: number): GridEntry | undefined {
    for (const grid of this.#grids.values()) {
      if (polygonContains(grid.boundary, grid.bounds, lon, lat)) return grid;
    }
    return undefined;
  }
}
