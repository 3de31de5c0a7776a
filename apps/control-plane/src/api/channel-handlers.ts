import type { Metadata } from '@grpc/grpc-js';
import type { Channel, ChannelServiceServer, CreateChannelRequest } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ChannelCatalog } from '../channels/channel-catalog';
import type { ResourceChange } from '../resources/resource-catalog';
import type { ChannelSpecRecord } from '../channels/channel-spec';
import type { ResourceRecord } from '../store';
import { unary } from './grpc-errors';
import type { RequestChecks } from '../checks/request-checks';

/** ChannelService: the wire side of {@link ChannelCatalog}; fields are checked here, the rules there. */
export function channelHandlers(
  catalog: ChannelCatalog,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): ChannelServiceServer {
  const input = (req: CreateChannelRequest) => ({
    name: check.name('name', req.name, 'give the channel a name'),
    method: check.name('method', req.method, 'give an HTTP method: GET, POST, PUT, PATCH or DELETE'),
    path: req.path,
    service: check.optionalName('service', req.service),
    security: check.optionalName('security', req.security),
    timeoutMs: check.timeoutMs('timeout_ms', req.timeoutMs),
    async: req.async,
    rateLimitPerSecond: req.rateLimitPerSecond,
  });
  const wait = (req: { waitFor: number; waitTimeoutMs: number }) => ({ waitFor: req.waitFor, timeoutMs: check.timeoutMs('wait_timeout_ms', req.waitTimeoutMs) });
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  return {
    createChannel: unary('CreateChannel', log, admin, async (req) => toChangeResponse(await catalog.create(cluster(req), input(req), wait(req)))),
    updateChannel: unary('UpdateChannel', log, admin, async (req) => toChangeResponse(await catalog.update(cluster(req), input(req), wait(req)))),
    describeChannel: unary('DescribeChannel', log, admin, async (req) => toChannel(await catalog.describe(cluster(req), check.name('name', req.name, 'give the name of a channel (see ListChannels)')))),
    listChannels: unary('ListChannels', log, admin, async (req) => {
      const listed = await catalog.list(cluster(req));
      return { revision: listed.revision, channels: listed.resources.map(toChannel) };
    }),
    deleteChannel: unary('DeleteChannel', log, admin, async (req) =>
      toChangeResponse(await catalog.delete(cluster(req), check.name('name', req.name, 'give the name of a channel (see ListChannels)'), wait(req))),
    ),
  };
}

function toChannel(record: ResourceRecord<ChannelSpecRecord>): Channel {
  const { spec } = record;
  return {
    name: record.name,
    method: spec.method,
    path: spec.path,
    service: spec.service,
    security: spec.security,
    timeoutMs: spec.timeoutMs,
    async: spec.async,
    rateLimitPerSecond: spec.rateLimitPerSecond,
    revision: record.revision,
    updatedAt: record.updatedAt,
  };
}

function toChangeResponse(change: ResourceChange<ChannelSpecRecord>) {
  return { revision: change.revision, channel: change.record && toChannel(change.record), servers: change.servers };
}
