import type { ChannelSpec } from '@laneway/proto';
import type { PushedResource } from '../resources/resource-set';
import type { ChannelMethod, ChannelRoute } from './channel-route';

/** The routes of the pushed `channel` resources (the control plane checked them; the table checks again). */
export function routesOf(channels: readonly PushedResource<ChannelSpec>[]): ChannelRoute[] {
  return channels.map(({ name, spec }) => ({
    name,
    method: spec.method as ChannelMethod,
    path: spec.path,
    service: spec.service,
    security: spec.security,
    timeoutMs: spec.timeoutMs,
    rateLimitPerSecond: spec.rateLimitPerSecond,
    async: spec.async,
  }));
}
