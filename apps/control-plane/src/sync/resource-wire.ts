import { Lane, type Resource, type ResourceRef, type ServiceSpec } from '@laneway/proto';
import type { ChannelSpecRecord } from '../channels/channel-spec';
import type { ConnectionSpecRecord } from '../connections/connection-spec';
import type { ScheduleSpecRecord } from '../schedules/schedule-spec';
import type { SecuritySpecRecord } from '../security/security-spec';
import type { ResourceRecord, ResourceRef as StoredRef, ServiceWithCode } from '../store';

/** A stored resource as pushed on the sync stream: the one place kinds meet the wire's `oneof`. */
export function resourceToWire(record: ResourceRecord): Resource {
  const base = { kind: record.kind, name: record.name, version: record.version };
  switch (record.kind) {
    case 'channel':
      return { ...base, channel: record.spec as ChannelSpecRecord };
    case 'security':
      return { ...base, security: record.spec as SecuritySpecRecord };
    case 'connection':
      return { ...base, connection: record.spec as ConnectionSpecRecord };
    case 'schedule':
      return { ...base, schedule: record.spec as ScheduleSpecRecord };
  }
}

export function refToWire(ref: StoredRef): ResourceRef {
  return { kind: ref.kind, name: ref.name };
}

/** A service's current version as pushed to servers (and, with its history, to followers). */
export function serviceToWire(s: Pick<ServiceWithCode, 'name' | 'version' | 'lane' | 'path' | 'code' | 'policy' | 'connections'>): ServiceSpec {
  return {
    name: s.name,
    version: s.version,
    lane: s.lane === 'cpu' ? Lane.LANE_CPU : Lane.LANE_NETWORK,
    path: s.path,
    code: s.code,
    policy: s.policy,
    connections: s.connections ?? [],
  };
}
