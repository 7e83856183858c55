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
  const { $schema, $defs, ...rest } = acceptSecretReferences(generated) as Record<string, unknown>;
  return {
    $schema,
    title: 'gridhub configuration',
    description:
      'A gridhub deployment: its jurisdiction, users, devices, rules and settings. Generated from src/config/schema.ts by `npm run config:schema`: do not edit by hand.',
    ...rest,
    $defs: { ...($defs as object | undefined), secretReference },
  };
}

/** `{env: NAME}` or `{file: path}`, which the loader takes wherever a string goes (secret-references.ts). */
const secretReference = {
  description:
    'A value kept out of this file: {env: NAME} reads an environment variable, {file: path} a file (relative to this one; one trailing newline dropped).',
  oneOf: [
    {
      type: 'object',
      properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } },
      required: ['env'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: { file: { type: 'string', minLength: 1 } },
      required: ['file'],
      additionalProperties: false,
    },
  ],
};

/**
 * Every string of the schema may also be given as a secret reference, as the loader resolves them before it
 * validates: each schema whose `type` is string becomes `anyOf: [itself, the reference]`.
 */
function acceptSecretReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(acceptSecretReferences);
  if (typeof node !== 'object' || node === null) return node;
  const copy = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, acceptSecretReferences(value)]),
  );
  if (copy.type !== 'string') return copy;
  const { description, ...string } = copy;
  return {
    ...(description === undefined ? {} : { description }),
    anyOf: [string, { $ref: '#/$defs/secretReference' }],
  };
}

/** The file's text: two-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
