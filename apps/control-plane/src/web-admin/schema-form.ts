import { html, type HtmlValue, type SafeHtml } from './html';
import type { FormData } from './http-util';

/** The part of JSON Schema the generated forms understand; anything else becomes a JSON text field. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  format?: string;
}

const MAX_DEPTH = 4;
const FIELD = 'in.';

/** The schema from ListServices' `input_schema` (JSON text), or undefined when empty or not an object schema. */
export function parseSchema(text: string): JsonSchema | undefined {
  if (!text) return undefined;
  try {
    const schema = JSON.parse(text) as unknown;
    return schema && typeof schema === 'object' && !Array.isArray(schema) ? (schema as JsonSchema) : undefined;
  } catch {
    return undefined;
  }
}

function typeOf(schema: JsonSchema): string {
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  if (t) return t;
  if (schema.properties) return 'object';
  if (schema.enum?.every((v) => typeof v === 'string')) return 'string';
  return 'json';
}

/** Whether the schema is an object whose fields can all be shown as form fields (else: raw JSON only). */
export function formable(schema: JsonSchema | undefined): schema is JsonSchema {
  return !!schema && typeOf(schema) === 'object' && !!schema.properties && Object.keys(schema.properties).length > 0;
}

function fieldId(path: string[]): string {
  return `in-${path.map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_')).join('-')}`;
}

/** Form fields for an object schema: a field per property (nested objects as fieldsets), named `in.<path>`. */
export function schemaFields(schema: JsonSchema, path: string[] = []): SafeHtml {
  const required = new Set(schema.required ?? []);
  return html`${Object.entries(schema.properties ?? {}).map(([key, prop]) => field(key, prop, [...path, key], required.has(key)))}`;
}

function field(key: string, schema: JsonSchema, path: string[], required: boolean): HtmlValue {
  const id = fieldId(path);
  const name = FIELD + path.join('.');
  const type = typeOf(schema);
  const label = html`<label for="${id}">${schema.title ?? key}${required ? '' : html` <span class="hint">(optional)</span>`}${
    schema.description ? html` <span class="hint">— ${schema.description}</span>` : ''
  }</label>`;
  const req = required ? html` required` : '';
  const initial = schema.default === undefined ? '' : typeof schema.default === 'string' ? schema.default : JSON.stringify(schema.default);
  if (type === 'object' && schema.properties && path.length < MAX_DEPTH) {
    return html`<fieldset><legend>${schema.title ?? key}</legend>${schemaFields(schema, path)}</fieldset>`;
  }
  if (schema.enum && schema.enum.length > 0 && schema.enum.every((v) => typeof v === 'string' || typeof v === 'number')) {
    return html`${label}<select id="${id}" name="${name}"${req}>${required ? '' : html`<option value=""></option>`}${schema.enum.map(
      (v) => html`<option value="${String(v)}"${v === schema.default ? html` selected` : ''}>${String(v)}</option>`,
    )}</select>`;
  }
  if (type === 'boolean') {
    return html`<label for="${id}"><input type="checkbox" id="${id}" name="${name}" value="true"${schema.default === true ? html` checked` : ''}> ${schema.title ?? key}</label>`;
  }
  if (type === 'number' || type === 'integer') {
    return html`${label}<input type="number" id="${id}" name="${name}" step="${type === 'integer' ? '1' : 'any'}"${
      schema.minimum !== undefined ? html` min="${schema.minimum}"` : ''
    }${schema.maximum !== undefined ? html` max="${schema.maximum}"` : ''} value="${initial}"${req}>`;
  }
  if (type === 'string') return html`${label}<input type="text" id="${id}" name="${name}" value="${initial}"${req}>`;
  return html`${label}<textarea id="${id}" name="${name}" spellcheck="false" aria-describedby="${id}-hint"${req}>${initial}</textarea><div class="hint" id="${id}-hint">JSON</div>`;
}

/** The value the posted fields make for an object schema (numbers and booleans typed; empty optional fields left out). */
export function valueFromForm(schema: JsonSchema, form: FormData, path: string[] = []): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const at = [...path, key];
    const type = typeOf(prop);
    if (type === 'object' && prop.properties && at.length < MAX_DEPTH) {
      const inner = valueFromForm(prop, form, at);
      if (Object.keys(inner).length > 0 || (schema.required ?? []).includes(key)) value[key] = inner;
      continue;
    }
    const raw = form.get(FIELD + at.join('.'));
    if (type === 'boolean') {
      value[key] = raw === 'true';
      continue;
    }
    if (raw === undefined || raw === '') continue;
    if (type === 'number' || type === 'integer') {
      const n = Number(raw);
      value[key] = Number.isFinite(n) ? n : raw;
    } else if (type === 'string' || (prop.enum && prop.enum.every((v) => typeof v === 'string'))) {
      value[key] = raw;
    } else if (prop.enum) {
      value[key] = prop.enum.find((v) => String(v) === raw) ?? raw;
    } else {
      try {
        value[key] = JSON.parse(raw) as unknown;
      } catch {
        value[key] = raw;
      }
    }
  }
  return value;
}
