/**
 * What `laneway export`, `diff` and `apply` print, as pure functions of the responses (no I/O, no
 * gRPC). Each returns text without a trailing newline.
 */
import { ConfigAction } from '@laneway/proto';
import type { ApplyResponse, ConfigChange, ExportResponse } from '@laneway/proto';
import { formatServerResults } from './format';

/** How the change list is shown: `all` adds the unchanged resources; `dir` is the bundle as given. */
export interface ChangeListOptions {
  readonly all: boolean;
  readonly dir: string;
}

/**
 * One change: `+ channel orders (laneway.yaml: channels.orders)`, `~ connection billing: postgres.host`,
 * `- service crm.old`, `= schedule nightly`, `  not in DIR, kept (--prune removes): service x`.
 */
export function formatConfigChange(change: ConfigChange, dir: string): string {
  const what = `${change.kind} ${change.name}`;
  switch (change.action) {
    case ConfigAction.CONFIG_ACTION_ADD:
      return change.source ? `+ ${what} (${change.source})` : `+ ${what}`;
    case ConfigAction.CONFIG_ACTION_CHANGE:
      return change.fields.length ? `~ ${what}: ${change.fields.join(', ')}` : `~ ${what}`;
    case ConfigAction.CONFIG_ACTION_REMOVE:
      return `- ${what}`;
    case ConfigAction.CONFIG_ACTION_UNCHANGED:
      return `= ${what}`;
    case ConfigAction.CONFIG_ACTION_KEEP:
      return `  not in ${dir}, kept (--prune removes): ${what}`;
    default:
      return `? ${what}`;
  }
}

/** One line per change, in the answer's order; unchanged resources only with `all`. */
export function formatConfigChanges(changes: readonly ConfigChange[], options: ChangeListOptions): string[] {
  return changes
    .filter((change) => options.all || change.action !== ConfigAction.CONFIG_ACTION_UNCHANGED)
    .map((change) => formatConfigChange(change, options.dir));
}

/**
 * The count of every kind of line the change list can show, in the list's words: `2 to add, 1 to
 * change, 0 to remove, 4 unchanged, 3 not in DIR, kept`; once applied, `2 added, 1 changed, ...`.
 * (Without --all the unchanged ones are counted, not listed.)
 */
export function formatChangeCounts(changes: readonly ConfigChange[], done: boolean, dir: string): string {
  const count = (action: ConfigAction): number => changes.filter((change) => change.action === action).length;
  const [add, change, remove] = done ? ['added', 'changed', 'removed'] : ['to add', 'to change', 'to remove'];
  return [
    `${count(ConfigAction.CONFIG_ACTION_ADD)} ${add}`,
    `${count(ConfigAction.CONFIG_ACTION_CHANGE)} ${change}`,
    `${count(ConfigAction.CONFIG_ACTION_REMOVE)} ${remove}`,
    `${count(ConfigAction.CONFIG_ACTION_UNCHANGED)} unchanged`,
    `${count(ConfigAction.CONFIG_ACTION_KEEP)} not in ${dir}, kept`,
  ].join(', ');
}

/** Whether applying would change the cluster: something to add, change or remove (`diff --exit-code`). */
export function hasChanges(changes: readonly ConfigChange[]): boolean {
  const changing = [ConfigAction.CONFIG_ACTION_ADD, ConfigAction.CONFIG_ACTION_CHANGE, ConfigAction.CONFIG_ACTION_REMOVE];
  return changes.some((change) => changing.includes(change.action));
}

/** `laneway diff` (and `apply --dry-run`): the change list, then the counts. */
export function formatConfigDiff(response: ApplyResponse, options: ChangeListOptions): string {
  return [
    ...formatConfigChanges(response.changes, options),
    formatChangeCounts(response.changes, false, options.dir),
  ].join('\n');
}

/**
 * `laneway apply`: the change list, `applied revision N: <counts>` (or that nothing differed), then
 * what each server did.
 */
export function formatConfigApply(
  response: ApplyResponse,
  options: ChangeListOptions & { readonly waited: boolean },
): string {
  const lines = formatConfigChanges(response.changes, options);
  if (!response.applied) {
    lines.push(
      `nothing to apply: revision ${response.revision} matches ${options.dir} (${formatChangeCounts(response.changes, true, options.dir)})`,
    );
    return lines.join('\n');
  }
  lines.push(`applied revision ${response.revision}: ${formatChangeCounts(response.changes, true, options.dir)}`);
  lines.push(formatServerResults(response.servers, options.waited));
  return lines.join('\n');
}

export interface ExportSummary {
  readonly cluster: string;
  /** The directory as given (or the default). */
  readonly dir: string;
  /** The files a previous export held that this one does not. */
  readonly removed: readonly string[];
  /** Set when the secrets were exported encrypted under this key file. */
  readonly keyFile?: string | undefined;
}

/** Where the export went, how many files at which revision, what was removed, what apply needs. */
export function formatExport(response: ExportResponse, summary: ExportSummary): string {
  const files = response.files.length;
  const lines = [
    `exported cluster ${summary.cluster} at revision ${response.revision}: ${files} file${files === 1 ? '' : 's'} in ${summary.dir}`,
  ];
  if (summary.removed.length) {
    lines.push(
      `removed ${summary.removed.length} file${summary.removed.length === 1 ? '' : 's'} the cluster no longer has: ${summary.removed.join(', ')}`,
    );
  }
  if (summary.keyFile !== undefined) {
    lines.push(`secrets are encrypted under ${summary.keyFile}: apply needs --key-file ${summary.keyFile}`);
  }
  if (response.secretReferences.length) {
    lines.push(`apply needs these environment variables: ${response.secretReferences.join(', ')}`);
  }
  return lines.join('\n');
}

/** `--json` of export: the response with the files' paths only (their contents are in the directory). */
export function exportJson(response: ExportResponse): unknown {
  return { ...response, files: response.files.map((file) => ({ path: file.path })) };
}
