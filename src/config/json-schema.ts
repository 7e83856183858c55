import { z } from 'zod';
import { configSchema } from './schema.ts';

/**
 * The configuration file's JSON Schema, generated from the zod schema the hub validates with (schema.ts), so that
 * editors check a file as it is written: unknown keys, types, bounds, enums and the descriptions as hover text.
 * It describes the file as written (zod's input side: fields with defaults are optional). What JSON Schema cannot
 * say (refinements such as "a ring must be closed", cross-references such as a device's grid) is still checked by
 * the hub at start. `npm run config:schema` writes it to config/gridhub.schema.json; a test fails when that file
 * is stale.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-2020-12',
    // A part JSON Schema cannot express (a transform, a custom check) is left open rather than failing the build.
    unrepresentable: 'any',
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'gridhub configuration',
    description:
      'A gridhub deployment: its jurisdiction, users, devices, rules and settings. Generated from src/config/schema.ts by `npm run config:schema`: do not edit by hand.',
    ...rest,
  };
}

/** The file's text: two-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
