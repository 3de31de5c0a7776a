import type { Metadata } from '@grpc/grpc-js';
import { ConfigAction, type ConfigServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ClusterConfig, ConfigActionName } from '../cluster-config/cluster-config';
import { CONFIG_FILE } from '../cluster-config/config-document';
import { unary } from './grpc-errors';
import type { RequestChecks } from '../checks/request-checks';

const ACTIONS: Record<ConfigActionName, ConfigAction> = {
  add: ConfigAction.CONFIG_ACTION_ADD,
  change: ConfigAction.CONFIG_ACTION_CHANGE,
  remove: ConfigAction.CONFIG_ACTION_REMOVE,
  keep: ConfigAction.CONFIG_ACTION_KEEP,
  unchanged: ConfigAction.CONFIG_ACTION_UNCHANGED,
};

/** ConfigService: the wire side of {@link ClusterConfig}. The bundle's source files get a Deploy's limits. */
export function configHandlers(
  config: ClusterConfig,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): ConfigServiceServer {
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  return {
    export: unary('Export', log, admin, async (req) => config.export(cluster(req), req.secretsKey)),
    apply: unary('Apply', log, admin, async (req) => {
      const c = cluster(req);
      const yaml = req.files.filter((f) => f.path === CONFIG_FILE);
      const sources = req.files.filter((f) => f.path !== CONFIG_FILE);
      if (sources.length) check.files(sources);
      check.configText(CONFIG_FILE, yaml[0]?.content ?? '');
      const outcome = await config.apply(c, [...yaml.slice(0, 1), ...sources], {
        dryRun: req.dryRun,
        prune: req.prune,
        secretValues: req.secretValues,
        secretsKey: req.secretsKey,
        waitFor: req.waitFor,
        timeoutMs: check.timeoutMs('timeout_ms', req.timeoutMs),
      });
      return { ...outcome, changes: outcome.changes.map((ch) => ({ ...ch, action: ACTIONS[ch.action] })) };
    }),
  };
}
