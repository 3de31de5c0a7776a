import type { Resource } from '@laneway/proto';
import type { PushedResource } from '../resources/resource-set';

/** A pushed resource off the wire: its spec is the kind's field of the `oneof` (the one place kinds meet it). */
export function resourceFromWire(resource: Resource): PushedResource {
  const spec =
    resource.kind === 'channel' ? resource.channel : resource.kind === 'security' ? resource.security : resource.kind === 'connection' ? resource.connection : resource.kind === 'schedule' ? resource.schedule : undefined;
  return { kind: resource.kind, name: resource.name, version: resource.version, spec: spec ?? {} };
}
