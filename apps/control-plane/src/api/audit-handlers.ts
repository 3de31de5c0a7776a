import type { Metadata } from '@grpc/grpc-js';
import type { AuditServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { RequestChecks } from '../checks/request-checks';
import { InvalidArgumentError } from '../errors';
import type { ClusterStore } from '../store';
import { unary } from './grpc-errors';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** AuditService: the audit log, newest first, a page at a time (admin token). */
export function auditHandlers(store: ClusterStore, check: RequestChecks, log: Logger, admin: (metadata: Metadata, method: string) => Promise<void>): AuditServiceServer {
  return {
    listAuditRecords: unary('ListAuditRecords', log, admin, async (req) => {
      const cluster = req.cluster ? check.name('cluster', req.cluster) : undefined;
      if (req.pageSize > MAX_PAGE) throw new InvalidArgumentError('page_size', `page_size ${req.pageSize} is above ${MAX_PAGE}`);
      let since: string | undefined;
      if (req.since) {
        const at = Date.parse(req.since);
        if (Number.isNaN(at)) throw new InvalidArgumentError('since', `since ${JSON.stringify(req.since.slice(0, 100))} is not an ISO-8601 time (e.g. 2026-12-06T10:00:00Z)`);
        since = new Date(at).toISOString();
      }
      let beforeId: number | undefined;
      if (req.pageToken) {
        if (!/^[1-9][0-9]{0,15}$/.test(req.pageToken)) {
          throw new InvalidArgumentError('page_token', `page_token ${JSON.stringify(req.pageToken.slice(0, 100))} is not one this API gave: pass the previous answer's next_page_token`);
        }
        beforeId = Number(req.pageToken);
      }
      const limit = req.pageSize || DEFAULT_PAGE;
      const records = await store.listAudit({ cluster, since, limit, beforeId });
      const last = records.at(-1);
      return { records, nextPageToken: records.length === limit && last ? String(last.id) : '' };
    }),
  };
}
