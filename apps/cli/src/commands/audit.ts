import { Option } from 'commander';
import type { AuditRecord } from '@laneway/proto';
import { namingFlags } from '../flag-names';
import { formatJson, formatTable } from '../format';
import { defineCommand } from './command';
import { countParser, durationParser } from './option-parsers';
import { optionValue } from './option-values';

export interface AuditArgs {
  /** Every cluster's records, not only --cluster's. */
  readonly allClusters: boolean;
  /** Only records from this long ago on; undefined: all. */
  readonly sinceMs: number | undefined;
  /** At most this many records (pages are fetched until then). */
  readonly limit: number;
}

const DEFAULT_LIMIT = 100;
const PAGE = 500;

/** The records as a table, oldest at the bottom as they came (newest first). */
export function formatAudit(records: readonly AuditRecord[], scope: string): string {
  if (records.length === 0) return `no audit records (${scope})`;
  const rows = records.map((r) => [
    r.at.replace(/\.\d+Z$/, 'Z'),
    r.actor,
    r.peer.replace(/^ipv4:/, ''),
    r.rpc.replace(/^laneway\.v1\./, ''),
    r.cluster || '-',
    [r.kind, r.name].filter(Boolean).join(' ') || '-',
    r.revisionBefore === r.revisionAfter ? String(r.revisionAfter) : `${r.revisionBefore}->${r.revisionAfter}`,
    r.outcome === 'OK' ? 'OK' : `${r.outcome}: ${r.message.length > 80 ? `${r.message.slice(0, 77)}...` : r.message}`,
  ]);
  return formatTable([['AT', 'ACTOR', 'PEER', 'RPC', 'CLUSTER', 'WHAT', 'REVISION', 'OUTCOME'], ...rows]);
}

export const auditCommand = defineCommand<AuditArgs>({
  name: 'audit',
  summary: "Show the audit log, newest first: who changed what (or tried to), from where, the revisions, the outcome; --cluster's records, or every cluster's with --all-clusters",
  arguments: [],
  options: [
    new Option('--all-clusters', "every cluster's records (and calls that name none, such as secrets rotate-key)"),
    new Option('--since <DURATION>', 'only records from this long ago on, e.g. --since 1h').argParser(durationParser('--since', '1h', 1)),
    new Option('--limit <N>', `at most N records (default ${DEFAULT_LIMIT})`).argParser(countParser('--limit')),
  ],
  parse(_positionals, options) {
    return {
      allClusters: optionValue.flag(options, 'allClusters'),
      sinceMs: optionValue.number(options, 'since'),
      limit: optionValue.number(options, 'limit') ?? DEFAULT_LIMIT,
    };
  },
  async run(args, context) {
    const cluster = args.allClusters ? '' : context.config.cluster;
    const since = args.sinceMs === undefined ? '' : new Date(Date.now() - args.sinceMs).toISOString();
    const records: AuditRecord[] = [];
    let pageToken = '';
    do {
      const page = await namingFlags({ since: '--since', cluster: '--cluster' }, () =>
        context.api.listAuditRecords({ cluster, since, pageSize: Math.min(PAGE, args.limit - records.length), pageToken }),
      );
      records.push(...page.records);
      pageToken = page.nextPageToken;
    } while (pageToken && records.length < args.limit);
    context.out(context.json ? formatJson({ records }) : formatAudit(records, cluster ? `cluster ${cluster}` : 'every cluster'));
    return 0;
  },
});
