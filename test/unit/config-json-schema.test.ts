import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema, configJsonSchemaText } from '../../src/config/json-schema.ts';
import { projectRoot } from '../helpers/hub.ts';

/**
 * config/gridhub.schema.json, which editors use to check the YAML as it is written (the shipped files name it on
 * their first line), is generated from the zod schema and committed: it must be current, and it must accept what
 * the hub accepts and refuse what the hub refuses.
 */

const schemaFile = path.join(projectRoot, 'config', 'gridhub.schema.json');
const shippedYaml = ['config/demo.yaml', 'config/compose.yaml'];

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
}

describe('the configuration JSON Schema', () => {
  it('is committed as npm run config:schema generates it from the zod schema', () => {
    expect(
      readFileSync(schemaFile, 'utf8'),
      'config/gridhub.schema.json is stale: run npm run config:schema',
    ).toBe(configJsonSchemaText());
  });

  it('is named on the first line of every shipped YAML file, for the YAML language server', () => {
    for (const file of shippedYaml) {
      const firstLine = readFileSync(path.join(projectRoot, file), 'utf8').split('\n')[0];
      expect(firstLine, file).toBe('# yaml-language-server: $schema=./gridhub.schema.json');
    }
  });

  it('accepts every shipped YAML file', () => {
    const validate = validator();
    for (const file of shippedYaml) {
      const valid = validate(parse(readFileSync(path.join(projectRoot, file), 'utf8')));
      expect(validate.errors ?? [], file).toEqual([]);
      expect(valid).toBe(true);
    }
  });

  it('refuses unknown keys, wrong types and values out of bounds, with their paths', () => {
    const validate = validator();
    const config = parse(readFileSync(path.join(projectRoot, 'config', 'demo.yaml'), 'utf8'));
    config.hub.colour = 'blue';
    config.hub.maxPayloadBytes = 10;
    config.store = { kind: 'redis', url: 6379 };
    config.mqtt = { mode: 'sometimes' };
    expect(validate(config)).toBe(false);
    const problems = (validate.errors ?? []).map((error) => `${error.instancePath} ${error.keyword}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        '/hub additionalProperties',
        '/hub/maxPayloadBytes minimum',
        '/mqtt/mode enum',
      ]),
    );
    expect(problems.some((problem) => problem.startsWith('/store'))).toBe(true);
  });

  it('takes {env: NAME} and {file: path} wherever a string goes, as the loader does, and nothing else in its place', () => {
    const validate = validator();
    const config = parse(readFileSync(path.join(projectRoot, 'config', 'demo.yaml'), 'utf8'));
    config.hub.jwtSecret = { env: 'GRIDHUB_JWT_SECRET' };
    config.users[0].token = { file: 'secrets/officer-token' };
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    config.hub.jwtSecret = { vault: 'secret/gridhub' };
    expect(validate(config)).toBe(false);
    expect((validate.errors ?? []).some((error) => error.instancePath === '/hub/jwtSecret')).toBe(true);
  });

  it("carries the zod schema's descriptions, for editors to show", () => {
    const schema = configJsonSchema() as {
      properties: { hub: { properties: Record<string, { description?: string }> } };
    };
    expect(schema.properties.hub.properties.maxPayloadBytes?.description).toBe(
      'Device payloads larger than this are refused as oversized.',
    );
  });
});
