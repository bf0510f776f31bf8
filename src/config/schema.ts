/** Loads config.schema.json: the one schema behind both the Homebridge UI form and runtime validation. */
import { readFileSync } from 'node:fs';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
  [keyword: string]: unknown;
}

interface UiSchemaFile {
  pluginAlias: string;
  schema: JsonSchema;
}

// src/config and dist/config both sit two levels below the package root.
const SCHEMA_URL = new URL('../../config.schema.json', import.meta.url);

let cached: UiSchemaFile | undefined;

export function loadUiSchema(): UiSchemaFile {
  cached ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as UiSchemaFile;
  return cached;
}

/** Keywords the Homebridge UI understands that plain JSON Schema does not; ajv must accept them. */
export const UI_KEYWORDS = ['placeholder', 'condition', 'functionBody', 'typeahead', 'titleMap', 'notitle', 'x-schema-form'] as const;

/** The platform schema with camera items left open, so each camera is validated (and skipped) on its own. */
export function platformSchema(): JsonSchema {
  const { schema } = loadUiSchema();
  const cameras = schema.properties?.cameras;
  const { mqtt: _mqtt, ...rest } = schema.properties ?? {};
  return {
    ...schema,
    properties: { ...rest, cameras: { ...cameras, items: { type: 'object' } } },
  };
}

export function cameraSchema(): JsonSchema {
  const items = loadUiSchema().schema.properties?.cameras?.items;
  if (!items) throw new Error('config.schema.json has no cameras.items');
  return items;
}

export function mqttSchema(): JsonSchema {
  const mqtt = loadUiSchema().schema.properties?.mqtt;
  if (!mqtt) throw new Error('config.schema.json has no mqtt');
  return mqtt;
}
