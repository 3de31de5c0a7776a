import type { ServiceLane } from './lane';
import { isStandardSchema, type ServiceSchema } from './schema';
import type { ServiceContext } from './service-context';

/** What a service author writes: passed to {@link defineService}. */
export interface ServiceSpec<TInput = unknown, TOutput = unknown> {
  /**
   * Unique name within a cluster: 1-128 characters, letters, digits, `.`, `-`, `_`, starting with a
   * letter. Dots group services by domain, e.g. `crm.get-customer`.
   */
  name: string;
  /** The lane to run in; defaults to `'network'`. */
  lane?: ServiceLane;
  /** Optional short description shown by listings. */
  description?: string;
  /**
   * Validates and converts the raw input before `handle` sees it: any Standard Schema (zod 4,
   * valibot, arktype...) or any object with a `parse(value)` method. A failure is the caller's
   * INVALID_ARGUMENT (HTTP 400 naming the field); a Standard Schema that can give JSON Schema also
   * describes the request in the servers' `/openapi.json`.
   */
  input?: ServiceSchema<TInput>;
  /** Describes the output in `/openapi.json` (not checked at run time). */
  output?: ServiceSchema<TOutput>;
  /**
   * Deadline of one invocation when the caller gives none, in milliseconds (default 30 s for sync
   * calls; 60 s for async ones). Past it, a network-lane invocation fails with `DEADLINE_EXCEEDED`
   * and its `ctx.signal` aborts; a CPU-lane one also has its worker thread terminated.
   */
  timeoutMs?: number;
  /** Attempts of an async invocation, with exponential backoff, before it is kept as failed (default 3). */
  attempts?: number;
  /** At most this many invocations of this service at once on one server (bulkhead; default unlimited). */
  concurrency?: number;
  /**
   * The cluster's outgoing connections this service uses (`ctx.sql('billing')`, `ctx.rest('crm')`…).
   * A deploy is refused while one of them does not exist, a connection is not deleted while a service
   * declares it, and `ctx` reaches only the connections declared here.
   */
  connections?: readonly string[];
  /** Runs one invocation. Its return value (JSON-serialisable) is the invocation's output. */
  handle(input: TInput, ctx: ServiceContext): TOutput | Promise<TOutput>;
}

/** A validated, frozen service definition, as returned by {@link defineService}. */
export interface ServiceDefinition<TInput = unknown, TOutput = unknown> extends ServiceSpec<TInput, TOutput> {
  readonly lane: ServiceLane;
  readonly connections: readonly string[];
  readonly [SERVICE_MARK]: true;
}

/**
 * Marks service definitions. Registered globally (`Symbol.for`) so that definitions are recognised
 * across `vm` contexts and worker threads.
 */
export const SERVICE_MARK: unique symbol = Symbol.for('laneway.service') as never;

/** The pattern a connection name must match (as the control plane checks it). */
export const CONNECTION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The pattern a service name must match. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

/**
 * Declares a service. Export the result from a module (as the default export or a named export; a
 * module may export several) and deploy the file.
 *
 * @throws TypeError naming the field and value when the definition is invalid.
 * @example
 * import { defineService } from '@laneway/sdk';
 *
 * export default defineService({
 *   name: 'hello.greet',
 *   lane: 'network',
 *   async handle(input: { name: string }, ctx) {
 *     ctx.log.info({ name: input.name }, 'greeting');
 *     return { greeting: `Hello, ${input.name}!` };
 *   },
 * });
 */
export function defineService<TInput = unknown, TOutput = unknown>(
  spec: ServiceSpec<TInput, TOutput>,
): ServiceDefinition<TInput, TOutput> {
  if (spec === null || typeof spec !== 'object') {
    throw new TypeError(`defineService: expected an object, got ${describe(spec)}`);
  }
  if (typeof spec.name !== 'string' || !SERVICE_NAME_PATTERN.test(spec.name)) {
    throw new TypeError(
      `defineService: name ${describe(spec.name)} is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter`,
    );
  }
  const lane = spec.lane ?? 'network';
  if (lane !== 'network' && lane !== 'cpu') {
    throw new TypeError(`defineService: service '${spec.name}' has lane ${describe(spec.lane)}; use 'network' or 'cpu'`);
  }
  if (typeof spec.handle !== 'function') {
    throw new TypeError(`defineService: service '${spec.name}' has no handle(input, ctx) function`);
  }
  for (const [field, max] of [
    ['timeoutMs', 24 * 3600_000],
    ['attempts', 100],
    ['concurrency', 100_000],
  ] as const) {
    const value = spec[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) {
      throw new TypeError(`defineService: service '${spec.name}' has ${field} ${describe(value)}; use a whole number from 1 to ${max}`);
    }
  }
  const connections = spec.connections ?? [];
  if (!Array.isArray(connections) || connections.some((c) => typeof c !== 'string' || !CONNECTION_NAME_PATTERN.test(c))) {
    throw new TypeError(
      `defineService: service '${spec.name}' has connections ${describe(spec.connections)}; give an array of connection names (1-128 letters, digits, '.', '-', '_')`,
    );
  }
  for (const field of ['input', 'output'] as const) {
    const schema = spec[field] as unknown;
    if (schema !== undefined && !isStandardSchema(schema) && typeof (schema as { parse?: unknown } | null)?.parse !== 'function') {
      throw new TypeError(`defineService: service '${spec.name}' has an ${field} that is neither a Standard Schema nor has a parse(value) method`);
    }
  }
  return Object.freeze({ ...spec, lane, connections: Object.freeze([...new Set(connections)]), [SERVICE_MARK]: true as const });
}

/** True when `value` was made by {@link defineService} (in any realm). */
export function isServiceDefinition(value: unknown): value is ServiceDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SERVICE_MARK] === true;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
