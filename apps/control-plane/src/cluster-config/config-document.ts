import { parseDocument, stringify } from 'yaml';
import { InvalidArgumentError } from '../errors';
import type { ResourceKind } from '../store';
import { SECTIONS } from './config-shapes';

/** The one file of a bundle that is not service code. */
export const CONFIG_FILE = 'laneway.yaml';
const FORMAT_VERSION = 1;
const TOP_LEVEL = ['version', 'cluster', ...SECTIONS.map((s) => s.section)];

/** laneway.yaml, parsed: each kind's resources by name (as written: not yet checked against the shapes). */
export interface ConfigDocument {
  cluster: string;
  resources: Record<ResourceKind, Map<string, unknown>>;
}

/** Parses laneway.yaml; a syntax or layout error is INVALID_ARGUMENT naming the file, line and column or the key. */
export function parseConfigDocument(text: string): ConfigDocument {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const at = error.linePos?.[0];
    const where = at ? `${CONFIG_FILE}:${at.line}:${at.col}` : CONFIG_FILE;
    throw new InvalidArgumentError(CONFIG_FILE, `${where}: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { file: CONFIG_FILE });
  }
  const root: unknown = doc.toJS({ maxAliasCount: 0 }) ?? {};
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new InvalidArgumentError(CONFIG_FILE, `${CONFIG_FILE}: the top level must be a mapping (${TOP_LEVEL.join(', ')})`);
  }
  const top = root as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_LEVEL.includes(key)) {
      throw new InvalidArgumentError(key, `${CONFIG_FILE}: '${key}' is not a top-level key; the keys are ${TOP_LEVEL.join(', ')}`);
    }
  }
  if (top.version !== undefined && top.version !== FORMAT_VERSION) {
    throw new InvalidArgumentError('version', `${CONFIG_FILE}: version ${JSON.stringify(top.version)} is not one this control plane reads (${FORMAT_VERSION})`);
  }
  const resources = {} as Record<ResourceKind, Map<string, unknown>>;
  for (const { kind, section } of SECTIONS) {
    const value = top[section];
    resources[kind] = new Map();
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new InvalidArgumentError(section, `${CONFIG_FILE}: ${section} must be a mapping of names to ${kind} definitions`);
    }
    for (const [name, spec] of Object.entries(value as Record<string, unknown>)) resources[kind].set(name, spec);
  }
  return { cluster: typeof top.cluster === 'string' ? top.cluster : '', resources };
}

/** laneway.yaml as an export writes it: a header, then each non-empty section with its resources sorted by name. */
export function formatConfigDocument(cluster: string, sections: Record<ResourceKind, Map<string, Record<string, unknown>>>, referencesNote: string[]): string {
  const body: Record<string, unknown> = { version: FORMAT_VERSION, cluster };
  for (const { kind, section } of SECTIONS) {
    const entries = [...sections[kind].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length) body[section] = Object.fromEntries(entries);
  }
  const header = [
    '# A Laneway cluster\'s configuration, written by `laneway export`. The services\' source files sit beside it.',
    '# `laneway diff DIR` shows what `laneway apply DIR` would change; apply removes nothing it does not name unless --prune.',
    ...referencesNote,
  ];
  return `${header.join('\n')}\n${stringify(body, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
