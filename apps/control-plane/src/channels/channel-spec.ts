import { AlreadyExistsError, InvalidArgumentError } from '../errors';
import type { ResourceReader } from '../store';

/** A channel as stored and pushed (the `channel` resource kind). */
export interface ChannelSpecRecord {
  method: ChannelMethod;
  path: string;
  service: string;
  /** A security definition's name; '' for a public channel. */
  security: string;
  /** 0 = the servers' default (30 s). */
  timeoutMs: number;
  async: boolean;
  /** Requests per second per credential (per client address on a public channel); 0 = unlimited. */
  rateLimitPerSecond: number;
}

export const CHANNEL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type ChannelMethod = (typeof CHANNEL_METHODS)[number];

const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LITERAL_SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// OpenAPI's spelling of a whole-segment parameter: '{name}' is stored as ':name'.
const BRACED_SEGMENT = /^\{([^{}/]*)\}$/;
const MAX_PATH = 1024;
// Served by every server itself; a channel there would be shadowed or would shadow it.
const RESERVED = ['/healthz', '/metrics', '/openapi.json', '/debug'];

/** What a create or update request carries, before checks. */
export interface ChannelInput {
  name: string;
  method: string;
  path: string;
  service: string;
  security: string;
  timeoutMs: number;
  async: boolean;
  rateLimitPerSecond: number;
}

/**
 * Checks the fields that need no look-up and returns the spec to store: method upper-cased, and path
 * parameters in one spelling (`/greet/{name}`, OpenAPI's, is stored as `/greet/:name`), so a list or
 * an export shows one form whichever was given.
 */
export function channelSpecOf(input: ChannelInput): ChannelSpecRecord {
  if (!CHANNEL_NAME.test(input.name)) {
    throw new InvalidArgumentError('name', `channel name '${input.name}' is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit`);
  }
  const method = input.method.toUpperCase();
  if (!(CHANNEL_METHODS as readonly string[]).includes(method)) {
    throw new InvalidArgumentError('method', `method '${input.method}' is not one of ${CHANNEL_METHODS.join(', ')}`);
  }
  const path = channelPathOf(input.path);
  if (!input.service) throw new InvalidArgumentError('service', 'service is empty: name the deployed service this channel invokes');
  return {
    method: method as ChannelMethod,
    path,
    service: input.service,
    security: input.security,
    timeoutMs: input.timeoutMs,
    async: input.async,
    rateLimitPerSecond: input.rateLimitPerSecond,
  };
}

/**
 * The path to store: checked, with every `{name}` segment written `:name`. Refused (INVALID_ARGUMENT,
 * field `path`) when it does not start with '/', has an empty segment, a bad or repeated parameter, a
 * `*` (no wildcards: it would otherwise be a literal star), or a character a URL path cannot carry.
 */
export function channelPathOf(path: string): string {
  const bad = (why: string): never => {
    throw new InvalidArgumentError('path', `path '${path.length > 80 ? `${path.slice(0, 80)}...` : path}' is invalid: ${why}`);
  };
  if (!path.startsWith('/')) bad("it must start with '/'");
  if (path.length > MAX_PATH) bad(`it has ${path.length} characters; at most ${MAX_PATH}`);
  if (RESERVED.some((r) => path === r || path.startsWith(`${r}/`))) bad(`${RESERVED.join(', ')} are served by every server itself`);
  if (path === '/') return path;
  const params = new Set<string>();
  const segments = path
    .slice(1)
    .split('/')
    .map((segment) => {
      if (segment === '') bad("it has an empty segment ('//' or a trailing '/')");
      if (segment.includes('*')) bad(`segment '${segment}' holds '*': paths have no wildcards; use a parameter such as ':name' or '{name}' for one segment`);
      const braced = BRACED_SEGMENT.exec(segment);
      const param = braced ? `:${braced[1]}` : segment;
      if (param.startsWith(':')) {
        if (!PARAM_SEGMENT.test(param)) bad(`parameter '${segment}' must be ':name' or '{name}', a name of letters, digits and '_' (at most 64)`);
        if (params.has(param)) bad(`parameter '${param.slice(1)}' appears twice`);
        params.add(param);
        return param;
      }
      if (segment.includes('{') || segment.includes('}')) {
        bad(`segment '${segment}' holds '{' or '}': a parameter is a whole segment, '{name}' or ':name'`);
      }
      if (!LITERAL_SEGMENT.test(segment)) bad(`segment '${segment}' holds characters a URL path cannot carry unescaped`);
      return segment;
    });
  return `/${segments.join('/')}`;
}

/** The shape two paths share when they match the same requests: /a/:id and /a/:key are one route. */
export function routeShape(method: string, path: string): string {
  return `${method} ${path.replace(/\/:[^/]+/g, '/:')}`;
}

/**
 * The checks against the rest of the cluster, run inside the change's transaction: the service is
 * deployed, the security definition exists, and no other channel answers the same method and path.
 */
export async function checkChannelReferences(name: string, spec: ChannelSpecRecord, cluster: string, reader: ResourceReader): Promise<void> {
  if (!(await reader.serviceExists(spec.service))) {
    throw new InvalidArgumentError('service', `channel '${name}': service '${spec.service}' is not deployed in cluster '${cluster}': deploy it first`);
  }
  if (spec.security && !(await reader.listResources('security')).some((d) => d.name === spec.security)) {
    throw new InvalidArgumentError('security', `channel '${name}': security definition '${spec.security}' does not exist in cluster '${cluster}': create it first`);
  }
  const shape = routeShape(spec.method, spec.path);
  for (const other of await reader.listResources<ChannelSpecRecord>('channel')) {
    if (other.name !== name && routeShape(other.spec.method, other.spec.path) === shape) {
      throw new AlreadyExistsError(
        'channel',
        name,
        `channel '${other.name}' already answers ${other.spec.method} ${other.spec.path} in cluster '${cluster}': change its path, or update that channel`,
      );
    }
  }
}
