import type { RouteSeries } from '../metrics/server-metrics';

/** The methods a REST channel can answer. */
export type ChannelMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Every channel method, in a stable order (the order of an `Allow` header). */
export const CHANNEL_METHODS: readonly ChannelMethod[] = Object.freeze(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** One REST channel: requests matching `method` and `path` invoke `service`. */
export interface ChannelRoute {
  /** The channel's name, unique in its cluster; named in errors and shown to the service as `ctx.http.channel`. */
  name: string;
  method: ChannelMethod;
  /** Starts with `/`; a segment `:name` is a path parameter, e.g. `/customers/:id`. */
  path: string;
  /** The service to invoke. */
  service: string;
  /** The security definition guarding the channel; `''` = public (checked by the front door's `SecurityCheck`). */
  security: string;
  /** How long the caller waits for the answer; 0 = 30 s. */
  timeoutMs: number;
  /** Requests per second per caller (credential, or client address on a public channel), cluster-wide; 0 or absent = unlimited. */
  rateLimitPerSecond?: number;
  /** Answer 202 with a job id at once and run the invocation durably (the async path). */
  async?: boolean;
  /** Its `http_route` series, made when the route table is built (see ServerMetrics); absent with metrics off. */
  metrics?: RouteSeries;
}

/** The timeout of a route whose `timeoutMs` is 0. */
export const DEFAULT_CHANNEL_TIMEOUT_MS = 30_000;

/** The timeout of a route in milliseconds (its own, or the default). */
export function routeTimeoutMs(route: ChannelRoute): number {
  return route.timeoutMs || DEFAULT_CHANNEL_TIMEOUT_MS;
}
