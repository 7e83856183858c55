import { z } from 'zod';
import type { DeadlinesDescription, StageDeadlinesDescription } from '../core/dispatch.ts';
import type { DeadlineStage } from '../core/incident.ts';

/**
 * The category catalogue (#25 point 3): what a case is about, after GB/T 30428's event and component classes (and
 * the device rules' own categories), with each category's deadlines per stage, the department that answers for it,
 * and its procedure (处置预案) shown to whoever handles the case. The catalogue's deadlines feed the one deadline
 * lookup (deadlines.categories): a sub-category's under `category/sub`, which falls back to its category's.
 */

const minutes = z
  .number()
  .positive()
  .max(7 * 24 * 60);
const stageDeadlines = z.strictObject({
  acceptMinutes: minutes,
  arriveMinutes: minutes,
  resolveMinutes: minutes,
});

const identifier = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,47}$/, 'lower-case letters, digits and _ (starting with a letter)');

export const procedureSchema = z
  .strictObject({
    steps: z.array(z.string().min(1).max(300)).max(30).default([]).describe('What to do, in order.'),
    checklist: z
      .array(z.string().min(1).max(200))
      .max(30)
      .default([])
      .describe('What the handler checks before resolving.'),
    documents: z
      .array(z.strictObject({ title: z.string().min(1).max(200), url: z.url().max(2000) }))
      .max(20)
      .default([])
      .describe('Reference documents: regulations, plans, forms.'),
  })
  .describe('处置预案: the procedure shown to whoever handles a case of the category.');

export const departmentSchema = z
  .strictObject({
    name: z.string().min(1).max(100),
    users: z
      .array(z.string().min(1).max(64))
      .max(50)
      .default([])
      .describe("User ids of the department's people, for coordination (hand-off)."),
  })
  .describe('The department that answers for the category (职能部门).');

const standardCode = z
  .string()
  .regex(/^\d{2,8}$/)
  .describe("The code in GB/T 30428's (CJ/T 214's) classification, where the standard has one.");

export const subcategorySchema = z.strictObject({
  id: identifier,
  name: z.string().min(1).max(60),
  code: standardCode.optional(),
  deadlines: stageDeadlines.optional().describe("Overrides the category's deadlines."),
  department: departmentSchema.optional().describe("Overrides the category's department."),
  procedure: procedureSchema.optional().describe("Overrides the category's procedure."),
});

export const catalogueCategorySchema = z.strictObject({
  id: identifier.describe(
    "The category as cases carry it; a device rule's category (intrusion, emergency…) is an entry too.",
  ),
  name: z.string().min(1).max(60),
  class: z
    .enum(['event', 'component', 'device'])
    .default('event')
    .describe("GB/T 30428's event class (事件), component class (部件), or a device rules' category (设备)."),
  code: standardCode.optional(),
  deadlines: stageDeadlines.optional(),
  department: departmentSchema.optional(),
  procedure: procedureSchema.optional(),
  subcategories: z.array(subcategorySchema).max(100).default([]),
});

export const catalogueSchema = z
  .strictObject({
    categories: z.array(catalogueCategorySchema).max(200).default([]),
  })
  .describe(
    'The category catalogue: categories and sub-categories (GB/T 30428 event and component classes, and the device rules’ categories), with deadlines per stage, the responsible department and the procedure (处置预案).',
  );

export type CatalogueConfig = z.infer<typeof catalogueSchema>;
export type CatalogueCategory = z.infer<typeof catalogueCategorySchema>;
export type Procedure = z.infer<typeof procedureSchema>;
export type Department = z.infer<typeof departmentSchema>;

/** The key of a category's sub-category in the deadline lookup. */
export function deadlineKey(category: string, subcategory?: string): string {
  return subcategory === undefined ? category : `${category}/${subcategory}`;
}

/**
 * The deadlines config with the catalogue's folded in: each category's under its id, each sub-category's under
 * `category/sub`. An entry of deadlines.categories stands over the catalogue's (the older, explicit setting wins).
 */
export function deadlinesWithCatalogue(
  deadlines: DeadlinesDescription,
  catalogue: CatalogueConfig,
): DeadlinesDescription {
  const folded: Record<string, StageDeadlinesDescription> = {};
  for (const category of catalogue.categories) {
    if (category.deadlines !== undefined) folded[category.id] = category.deadlines;
    for (const sub of category.subcategories) {
      const own = sub.deadlines ?? category.deadlines;
      if (own !== undefined) folded[deadlineKey(category.id, sub.id)] = own;
    }
  }
  return { default: deadlines.default, categories: { ...folded, ...deadlines.categories } };
}

/** A category's entry as cases read it: the sub-category's overrides applied. */
export interface CatalogueEntry {
  readonly category: string;
  readonly categoryName: string;
  readonly subcategory?: string;
  readonly subcategoryName?: string;
  readonly code?: string;
  readonly department?: Department;
  readonly procedure?: Procedure;
}

/** The catalogue, indexed: is this category known, what is its procedure, its department, its name. */
export class Catalogue {
  readonly config: CatalogueConfig;
  readonly #categories: ReadonlyMap<string, CatalogueCategory>;

  constructor(config: CatalogueConfig) {
    this.config = config;
    this.#categories = new Map(config.categories.map((category) => [category.id, category]));
  }

  category(id: string): CatalogueCategory | undefined {
    return this.#categories.get(id);
  }

  /** The entry of a category (and sub-category), or undefined when the catalogue has no such pair. */
  entry(categoryId: string, subcategoryId?: string): CatalogueEntry | undefined {
    const category = this.#categories.get(categoryId);
    if (category === undefined) return undefined;
    const sub =
      subcategoryId === undefined
        ? undefined
        : category.subcategories.find((candidate) => candidate.id === subcategoryId);
    if (subcategoryId !== undefined && sub === undefined) return undefined;
    const code = sub?.code ?? category.code;
    const department = sub?.department ?? category.department;
    const procedure = sub?.procedure ?? category.procedure;
    return {
      category: category.id,
      categoryName: category.name,
      ...(sub === undefined ? {} : { subcategory: sub.id, subcategoryName: sub.name }),
      ...(code === undefined ? {} : { code }),
      ...(department === undefined ? {} : { department }),
      ...(procedure === undefined ? {} : { procedure }),
    };
  }

  /** The `category/sub` of a standard's code (a 12345 work order's), or undefined. */
  byCode(code: string): { category: string; subcategory?: string } | undefined {
    for (const category of this.config.categories) {
      for (const sub of category.subcategories)
        if (sub.code === code) return { category: category.id, subcategory: sub.id };
      if (category.code === code) return { category: category.id };
    }
    return undefined;
  }
}

/** The deadline of a stage for a category or `category/sub` key: its own, its category's, else the default. */
export function stageDeadlineMinutes(
  deadlines: DeadlinesDescription,
  key: string,
  stage: DeadlineStage,
): number {
  const field = ({ accept: 'acceptMinutes', arrive: 'arriveMinutes', resolve: 'resolveMinutes' } as const)[
    stage
  ];
  const slash = key.indexOf('/');
  const own =
    deadlines.categories[key] ?? (slash > 0 ? deadlines.categories[key.slice(0, slash)] : undefined);
  return (own ?? deadlines.default)[field];
}
