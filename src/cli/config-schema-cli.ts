import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemaText } from '../config/json-schema.ts';

/**
 * `npm run config:schema`: writes config/gridhub.schema.json from the zod schema, the file the shipped YAML names
 * on its first line (`# yaml-language-server: $schema=./gridhub.schema.json`) so editors validate it.
 * `npm run config:schema -- --check` only says whether the committed file is current (exit 1 when stale).
 */
const target = path.resolve(import.meta.dirname, '..', '..', 'config', 'gridhub.schema.json');
const text = configJsonSchemaText();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // Missing: stale.
  }
  if (committed !== text) {
    process.stderr.write(`config-schema: ${target} is stale: run npm run config:schema\n`);
    process.exit(1);
  }
  process.stdout.write(`config-schema: ${target} is current\n`);
} else {
  writeFileSync(target, text);
  process.stdout.write(`config-schema: wrote ${target}\n`);
}
