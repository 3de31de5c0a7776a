import { WaitFor, type ServerApplyResult } from '@laneway/proto';
import type { Logger } from 'pino';
import { checkChannelReferences, type ChannelSpecRecord } from '../channels/channel-spec';
import { checkConnectionUnused } from '../connections/connection-spec';
import type { DeployPipeline } from '../deploy/deploy-pipeline';
import type { SourceFileInput } from '../deploy/compile-service-file';
import { InvalidArgumentError, LanewayError } from '../errors';
import type { ScheduleCatalog } from '../schedules/schedule-catalog';
import { checkScheduleService, type ScheduleSpecRecord } from '../schedules/schedule-spec';
import { secretContext } from '../secrets/resource-secrets';
import { SECRET_FIELDS, setStringAt, stringAt } from '../secrets/secret-fields';
import { checkSecurityUnused } from '../security/security-spec';
import {
  ConcurrentChangeError,
  specVersion,
  type ClusterStore,
  type ConfigWrite,
  type ExportedState,
  type NewServiceVersion,
  type ResourceKind,
  type ResourceReader,
  type ResourceRecord,
} from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { CONFIG_FILE, formatConfigDocument, parseConfigDocument, type ConfigDocument } from './config-document';
import { compactShape, readShape, SECTIONS, SHAPES } from './config-shapes';
import { ExportCipher } from './export-cipher';
import { exportFilePaths } from './export-file-paths';
import { specFromConfig } from './resource-import';
import { placeOf, referenceNames, referenceOf, resolveSecrets, type MissingReference, type SecretPlace } from './secret-references';

export type ConfigKind = 'service' | ResourceKind;
export type ConfigActionName = 'add' | 'change' | 'remove' | 'keep' | 'unchanged';

export interface ConfigChangeRecord {
  kind: ConfigKind;
  name: string;
  action: ConfigActionName;
  /** For a change: the fields that differ. */
  fields: string[];
  /** Where the bundle defines it; '' for what only the cluster has. */
  source: string;
}

export interface ConfigApplyOptions {
  dryRun: boolean;
  prune: boolean;
  /** Values of `${env:NAME}` references, by NAME. */
  secretValues: Readonly<Record<string, string>>;
  /** The key file an export with secrets was made with; empty when none. */
  secretsKey: Uint8Array;
  waitFor: WaitFor;
  /** 0 = 10 s. */
  timeoutMs: number;
}

export interface ConfigApplyOutcome {
  revision: number;
  changes: ConfigChangeRecord[];
  applied: boolean;
  servers: ServerApplyResult[];
}

export interface ConfigExport {
  revision: number;
  files: SourceFileInput[];
  secretReferences: string[];
}

interface Plan {
  changes: ConfigChangeRecord[];
  write: ConfigWrite;
}

const DEFAULT_WAIT_MS = 10_000;
const MAX_ATTEMPTS = 3;
// The order answers list kinds in: what others depend on first.
const KIND_ORDER: ConfigKind[] = ['security', 'connection', 'service', 'channel', 'schedule'];
const SECTION_OF = Object.fromEntries(SECTIONS.map((s) => [s.kind, s.section])) as Record<ResourceKind, string>;
const OVERLAP_NAMES: Record<number, string> = { 1: 'SKIP', 2: 'ALLOW' };

/**
 * A cluster's whole configuration as code. Export writes its services' source files and laneway.yaml
 * (the other resource kinds); Apply plans against the cluster (what to add, change, remove or keep),
 * then writes everything in one transaction and one revision, with every cross-resource rule checked
 * against the state that would commit.
 */
export class ClusterConfig {
  constructor(
    private readonly store: ClusterStore,
    private readonly hub: SyncHub,
    private readonly deploys: DeployPipeline,
    private readonly schedules: ScheduleCatalog,
    private readonly log: Logger,
  ) {}

  async export(cluster: string, secretsKey: Uint8Array = new Uint8Array()): Promise<ConfigExport> {
    const state = await this.store.exportState(cluster);
    const cipher = secretsKey.length ? new ExportCipher(secretsKey) : undefined;
    // Every secret field that is set, with its stored (sealed) value.
    const places: (SecretPlace & { sealed: string })[] = [];
    for (const r of state.resources) {
      for (const path of SECRET_FIELDS[r.kind]?.paths ?? []) {
        const sealed = stringAt(r.spec, path);
        if (sealed) places.push({ kind: r.kind, name: r.name, path, sealed });
      }
    }
    const names = cipher ? [] : referenceNames(places);
    const written = new Map<string, string>();
    places.forEach((p, i) => {
      const value = cipher ? cipher.encrypt(this.hub.secrets.box.open(p.sealed, secretContext(cluster, p.kind, p.name, p.path)), placeOf(p)) : referenceOf(names[i]!);
      written.set(placeOf(p), value);
    });
    const sections = Object.fromEntries(SECTIONS.map((s) => [s.kind, new Map<string, Record<string, unknown>>()])) as Record<ResourceKind, Map<string, Record<string, unknown>>>;
    for (const r of state.resources) {
      const spec = structuredClone(r.spec) as Record<string, unknown>;
      for (const path of SECRET_FIELDS[r.kind]?.paths ?? []) {
        const value = written.get(placeOf({ kind: r.kind, name: r.name, path }));
        if (value !== undefined) setStringAt(spec, path, value);
      }
      if (r.kind === 'schedule') spec.overlap = OVERLAP_NAMES[spec.overlap as number] ?? 'SKIP';
      sections[r.kind].set(r.name, compactShape(spec, SHAPES[r.kind]));
    }
    const note = cipher
      ? ['# Secrets are encrypted under the key file this was exported with: apply with --key-file.']
      : names.length
        ? [`# Secrets are \${env:NAME} references that apply reads from its environment: ${[...new Set(names)].sort().join(', ')}.`]
        : [];
    const files = new Map<string, { content: string; revision: number }>();
    const put = (path: string, content: string, revision: number) => {
      const known = files.get(path);
      // Two services from one file at different versions (one rolled back): the newer file wins.
      if (!known || known.revision < revision) files.set(path, { content, revision });
    };
    for (const s of state.services) {
      put(s.path, s.source, s.revision);
      for (const [path, content] of Object.entries(s.sources)) put(path, content, s.revision);
    }
    files.delete(CONFIG_FILE);
    // Paths older deploys stored out of their directory (`../x/a.ts`) are written under a safe name.
    const exportedAs = exportFilePaths([...files.keys()]);
    const sources: SourceFileInput[] = [];
    for (const [path, { content }] of files) {
      const name = exportedAs.get(path) ?? path;
      if (name !== path) this.log.warn({ cluster, path, exportedAs: name }, 'a stored file path points out of the export directory: exported under a safe name');
      sources.push({ path: name, content });
    }
    sources.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const out: SourceFileInput[] = [{ path: CONFIG_FILE, content: formatConfigDocument(cluster, sections, note) }, ...sources];
    return { revision: state.revision, files: out, secretReferences: [...new Set(names)].sort() };
  }

  async apply(cluster: string, files: readonly SourceFileInput[], options: ConfigApplyOptions): Promise<ConfigApplyOutcome> {
    await this.store.getCluster(cluster);
    const configFile = files.find((f) => f.path === CONFIG_FILE);
    if (!configFile) {
      throw new InvalidArgumentError('files', `the bundle has no ${CONFIG_FILE}: give the directory \`laneway export\` wrote, or write one (an empty file is a cluster with services only)`);
    }
    const doc = parseConfigDocument(configFile.content);
    const resolved = this.resolve(doc, options);
    const sources = files.filter((f) => f !== configFile);
    const services = sources.length ? (await this.deploys.validate(sources)).services : [];
    for (let attempt = 1; ; attempt++) {
      const state = await this.store.exportState(cluster, false);
      const plan = this.plan(cluster, resolved, services, state, options.prune);
      if (options.dryRun) return { revision: state.revision, changes: plan.changes, applied: false, servers: [] };
      try {
        const result = await this.store.applyConfig(cluster, plan.write, state.revision, (reader) => this.checkAll(cluster, resolved, plan.write, reader));
        if (!result.changed) return { revision: result.revision, changes: plan.changes, applied: false, servers: [] };
        this.hub.notify(cluster);
        this.log.info(
          { cluster, revision: result.revision, services: plan.write.services.length, removedServices: plan.write.removeServices.length, puts: plan.write.puts.length, deletes: plan.write.deletes.length },
          'configuration applied',
        );
        await this.reconcileSchedules(cluster, plan.write);
        const servers = options.waitFor === WaitFor.WAIT_FOR_NONE ? [] : await this.hub.waitForServers(cluster, result.revision, options.timeoutMs || DEFAULT_WAIT_MS);
        return { revision: result.revision, changes: plan.changes, applied: true, servers };
      } catch (err) {
        if (err instanceof ConcurrentChangeError && attempt < MAX_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** The document with every secret reference resolved; refuses, naming all of them, when any has no value. */
  private resolve(doc: ConfigDocument, options: ConfigApplyOptions): ConfigDocument {
    const cipher = options.secretsKey.length ? new ExportCipher(options.secretsKey) : undefined;
    const missing: MissingReference[] = [];
    const resources = {} as ConfigDocument['resources'];
    for (const { kind, section } of SECTIONS) {
      resources[kind] = new Map();
      for (const [name, raw] of doc.resources[kind]) {
        resources[kind].set(name, resolveSecrets(raw, `${section}.${name}`, { kind, name, path: '' }, options.secretValues, cipher, missing));
      }
    }
    if (missing.length) {
      const list = missing.map((m) => `${m.variable} (${m.where})`).join(', ');
      throw new InvalidArgumentError('secret_values', `${CONFIG_FILE} references environment variables that are not set: ${list}; set them where laneway apply runs. Nothing was changed.`, {
        missing: missing.map((m) => m.variable),
      });
    }
    return { ...doc, resources };
  }

  private plan(cluster: string, doc: ConfigDocument, services: readonly NewServiceVersion[], state: ExportedState, prune: boolean): Plan {
    const changes: ConfigChangeRecord[] = [];
    const write: ConfigWrite = { services: [], removeServices: [], puts: [], deletes: [] };
    const current = new Map(state.services.map((s) => [s.name, s]));
    for (const s of services) {
      const cur = current.get(s.name);
      const fields = cur ? (['version', 'lane', 'path'] as const).filter((f) => cur[f] !== s[f]).map((f) => (f === 'version' ? 'code' : f)) : [];
      const action: ConfigActionName = !cur ? 'add' : fields.length ? 'change' : 'unchanged';
      if (action !== 'unchanged') write.services.push(s);
      changes.push({ kind: 'service', name: s.name, action, fields, source: s.path });
    }
    const named = new Set(services.map((s) => s.name));
    for (const s of state.services) {
      if (named.has(s.name)) continue;
      if (prune) write.removeServices.push(s.name);
      changes.push({ kind: 'service', name: s.name, action: prune ? 'remove' : 'keep', fields: [], source: '' });
    }

    const stored = new Map<string, ResourceRecord>(state.resources.map((r) => [`${r.kind}/${r.name}`, r]));
    const errors: { field: string; message: string }[] = [];
    for (const { kind, section } of SECTIONS) {
      for (const [name, raw] of doc.resources[kind]) {
        const where = `${section}.${name}`;
        const previous = stored.get(`${kind}/${name}`);
        try {
          const spec = specFromConfig(kind, name, readShape(raw, SHAPES[kind], where), previous?.spec);
          const sealed = this.hub.secrets.seal(cluster, kind, name, spec, previous?.spec);
          const version = specVersion(sealed);
          const source = `${CONFIG_FILE}: ${where}`;
          if (!previous) {
            write.puts.push({ kind, name, spec: sealed });
            changes.push({ kind, name, action: 'add', fields: [], source });
          } else if (previous.version !== version) {
            write.puts.push({ kind, name, spec: sealed });
            changes.push({ kind, name, action: 'change', fields: differingFields(previous.spec, sealed), source });
          } else {
            changes.push({ kind, name, action: 'unchanged', fields: [], source });
          }
        } catch (err) {
          if (!(err instanceof LanewayError)) throw err;
          const field = err instanceof InvalidArgumentError && !err.field.startsWith(where) ? `${where}.${err.field}` : where;
          errors.push({ field, message: err.message.startsWith(where) ? `${CONFIG_FILE}: ${err.message}` : `${CONFIG_FILE}: ${where}: ${err.message}` });
        }
      }
      for (const r of state.resources) {
        if (r.kind !== kind || doc.resources[kind].has(r.name)) continue;
        if (prune) write.deletes.push({ kind, name: r.name });
        changes.push({ kind, name: r.name, action: prune ? 'remove' : 'keep', fields: [], source: '' });
      }
    }
    if (errors.length) {
      throw new InvalidArgumentError(`${CONFIG_FILE}: ${errors[0]!.field}`, errors.map((e) => e.message).join('\n'), { errors: errors.length });
    }
    changes.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { changes, write };
  }

  /**
   * Every rule between resources, checked inside the transaction against what would commit: channels
   * and schedules name deployed services (and channels existing security definitions, no route twice);
   * nothing removed is still used.
   */
  private async checkAll(cluster: string, doc: ConfigDocument, write: ConfigWrite, reader: ResourceReader): Promise<void> {
    const sourceOf = (kind: ResourceKind, name: string) =>
      doc.resources[kind].has(name) ? `${CONFIG_FILE}: ${SECTION_OF[kind]}.${name}` : `${kind} '${name}' (kept: the bundle does not name it)`;
    for (const d of write.deletes) {
      const where = `removing ${d.kind} '${d.name}' (--prune)`;
      if (d.kind === 'security') await located(where, () => checkSecurityUnused(d.name, cluster, reader));
      if (d.kind === 'connection') await located(where, () => checkConnectionUnused(d.name, cluster, reader));
    }
    for (const c of await reader.listResources<ChannelSpecRecord>('channel')) {
      await located(sourceOf('channel', c.name), () => checkChannelReferences(c.name, c.spec, cluster, reader));
    }
    for (const s of await reader.listResources<ScheduleSpecRecord>('schedule')) {
      await located(sourceOf('schedule', s.name), () => checkScheduleService(s.name, s.spec, cluster, reader));
    }
  }

  /**
   * The job schedulers after an apply: removed schedules lose theirs and their run lists; every other
   * schedule's is made to match, which also moves those of services the apply put on the other lane.
   */
  private async reconcileSchedules(cluster: string, write: ConfigWrite): Promise<void> {
    for (const d of write.deletes) if (d.kind === 'schedule') await this.schedules.forget(cluster, d.name);
    await this.schedules.reconcileCluster(cluster);
  }
}

/** Runs a check, prefixing its refusal with where the resource comes from. */
async function located(where: string, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (err instanceof LanewayError) err.message = `${where}: ${err.message}`;
    throw err;
  }
}

/** The dotted paths whose values differ between two specs. */
export function differingFields(a: unknown, b: unknown, prefix = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingFields(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(all)'];
}
