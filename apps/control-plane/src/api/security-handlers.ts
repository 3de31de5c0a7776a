import type { Metadata } from '@grpc/grpc-js';
import type { PutSecurityDefinitionRequest, SecurityServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ResourceChange } from '../resources/resource-catalog';
import type { SecurityCatalog } from '../security/security-catalog';
import { securityDefinitionOf, type SecuritySpecRecord } from '../security/security-spec';
import { unary } from './grpc-errors';
import type { RequestChecks } from '../checks/request-checks';

/** SecurityService: the wire side of {@link SecurityCatalog}. No answer carries a key, password or secret. */
export function securityHandlers(
  catalog: SecurityCatalog,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): SecurityServiceServer {
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  const name = (req: { name: string }) => check.name('name', req.name, 'give the name of a security definition (see ListSecurityDefinitions)');
  const input = (req: PutSecurityDefinitionRequest) => ({ name: name(req), apiKey: req.apiKey, basicAuth: req.basicAuth, jwt: req.jwt });
  const wait = (req: { waitFor: number; waitTimeoutMs: number }) => ({ waitFor: req.waitFor, timeoutMs: check.timeoutMs('wait_timeout_ms', req.waitTimeoutMs) });
  return {
    createSecurityDefinition: unary('CreateSecurityDefinition', log, admin, async (req) => toChange(await catalog.create(cluster(req), input(req), wait(req)))),
    updateSecurityDefinition: unary('UpdateSecurityDefinition', log, admin, async (req) => toChange(await catalog.update(cluster(req), input(req), wait(req)))),
    getSecurityDefinition: unary('GetSecurityDefinition', log, admin, async (req) => securityDefinitionOf(await catalog.describe(cluster(req), name(req)))),
    listSecurityDefinitions: unary('ListSecurityDefinitions', log, admin, async (req) => {
      const listed = await catalog.list(cluster(req));
      return { revision: listed.revision, definitions: listed.resources.map(securityDefinitionOf) };
    }),
    deleteSecurityDefinition: unary('DeleteSecurityDefinition', log, admin, async (req) => toChange(await catalog.delete(cluster(req), name(req), wait(req)))),
  };
}

function toChange(change: ResourceChange<SecuritySpecRecord>) {
  return { revision: change.revision, definition: change.record && securityDefinitionOf(change.record), servers: change.servers };
}
