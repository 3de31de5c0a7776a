import type { SecuritySpec } from '@laneway/proto';
import type { ChannelRoute } from '../channels/channel-route';

type JsonSchema = Record<string, unknown>;

export interface OpenApiSources {
  cluster: string;
  revision: number;
  routes: readonly ChannelRoute[];
  security: readonly { name: string; spec: SecuritySpec }[];
  /** JSON Schemas of a service's input and output, where its schema library can give them. */
  schemasOf(service: string): { input?: JsonSchema; output?: JsonSchema };
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };
const RETRY_AFTER = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * An OpenAPI 3.1 document of the cluster's channels as this server holds them: one operation per
 * channel (operationId = channel name), path parameters, query parameters or a JSON body from the
 * service's input schema (required when the body must carry a field), the response from its output
 * schema, every status the channel can answer, and the security schemes.
 */
export function openApiDocument(sources: OpenApiSources): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...sources.routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method))) {
    const names = route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
    const path = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
    const { input, output } = sources.schemasOf(route.service);
    const properties = (input?.['properties'] ?? {}) as Record<string, JsonSchema>;
    const required = new Set((input?.['required'] as string[] | undefined) ?? []);
    const parameters: Record<string, unknown>[] = names.map((name) => ({ name, in: 'path', required: true, schema: pathParameterSchema(properties[name]) }));
    let requestBody: Record<string, unknown> | undefined;
    if (BODY_METHODS.has(route.method)) {
      if (input) {
        const body = withoutPathFields(input, names);
        // Without a body the channel's input lacks those fields, and the service's schema answers 400.
        const needed = Array.isArray(body['required']) && body['required'].length > 0;
        requestBody = { required: needed, content: { 'application/json': { schema: body } } };
      }
    } else {
      for (const [name, schema] of Object.entries(properties)) {
        if (!names.includes(name)) parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    }
    if (route.async) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'repeats by the same caller within 24 h return the first job id and queue nothing',
        schema: { type: 'string', minLength: 1, maxLength: 256 },
      });
    }
    const responses: Record<string, unknown> = route.async
      ? {
          '202': {
            description: 'queued: the invocation runs on the durable async path (GetJob shows it)',
            headers: { 'Idempotent-Replayed': { description: '"true" when an earlier call with the same Idempotency-Key queued the job', schema: { type: 'string', enum: ['true'] } } },
            content: { 'application/json': { schema: { type: 'object', properties: { jobId: { type: 'string' } }, required: ['jobId'] } } },
          },
        }
      : { '200': { description: `the output of ${route.service}`, content: { 'application/json': { schema: output ?? {} } } } };
    for (const { code, description, retryAfter } of errorResponses(route, names.length > 0)) {
      responses[code] = { description, ...(retryAfter ? { headers: RETRY_AFTER } : {}), content: { 'application/json': { schema: ERROR_REF } } };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.name,
      summary: `invokes ${route.service}`,
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
      ...(route.security ? { security: [{ [route.security]: [] }] } : {}),
    };
  }
  const securitySchemes: Record<string, unknown> = {};
  for (const { name, spec } of sources.security) {
    if (spec.apiKey) securitySchemes[name] = { type: 'apiKey', in: 'header', name: spec.apiKey.header };
    else if (spec.basicAuth) securitySchemes[name] = { type: 'http', scheme: 'basic' };
    else if (spec.jwt) securitySchemes[name] = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };
  }
  return {
    openapi: '3.1.0',
    info: { title: `Laneway cluster ${sources.cluster}`, version: `revision ${sources.revision}` },
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } },
          },
        },
      },
      headers: {
        RetryAfter: { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
      },
      securitySchemes,
    },
  };
}

/** One error answer of an operation. */
interface ErrorResponse {
  code: string;
  description: string;
  /** The answer carries Retry-After. */
  retryAfter?: boolean;
}

/**
 * The error statuses a channel can answer, and nothing else: 405 belongs to no operation (it answers
 * the methods a path does not have), and 408/431 are the listener's, before any channel is chosen.
 */
function errorResponses(route: ChannelRoute, hasPathParameters: boolean): ErrorResponse[] {
  const sync = !route.async;
  const out: ErrorResponse[] = [
    {
      code: '400',
      description: sync
        ? 'bad input: malformed JSON, bad percent-encoding, or input the service schema rejects (`field` names it)'
        : 'bad input: malformed JSON, bad percent-encoding, an Idempotency-Key that is not 1-256 characters, or input the service schema rejects (`field` names it; nothing is queued)',
    },
  ];
  if (route.security) out.push({ code: '401', description: 'missing or invalid credentials' });
  if (hasPathParameters) out.push({ code: '404', description: 'a path parameter is empty: no channel has that path' });
  // fastify reads no body of a GET: only the other methods parse one.
  if (route.method !== 'GET') {
    out.push({ code: '413', description: 'the body is over LANEWAY_HTTP_MAX_BODY_BYTES' });
    out.push({ code: '415', description: 'a body that is not application/json (or application/*+json)' });
  }
  if (route.rateLimitPerSecond) out.push({ code: '429', description: 'over the rate limit for this caller', retryAfter: true });
  if (sync) out.push({ code: '500', description: 'the service failed, or returned something that is not JSON' });
  out.push({
    code: '503',
    description: sync
      ? 'over LANEWAY_HTTP_MAX_IN_FLIGHT, shutting down, no lane could start the call, or no server has the service'
      : 'over LANEWAY_HTTP_MAX_IN_FLIGHT, shutting down, or Redis unreachable: nothing queued (past 5 s it may be: repeat with the same Idempotency-Key)',
    retryAfter: true,
  });
  if (sync) out.push({ code: '504', description: "no answer within the channel's timeout" });
  return out;
}

/** A path parameter's schema: the input's for that field (a string one never empty: an empty segment matches no channel), else any non-empty string. */
function pathParameterSchema(schema: JsonSchema | undefined): JsonSchema {
  if (!schema) return { type: 'string', minLength: 1 };
  return schema['type'] === 'string' && schema['minLength'] === undefined ? { ...schema, minLength: 1 } : schema;
}

/** The body's schema: the input's, less the fields the path carries (they win over the body anyway). */
function withoutPathFields(schema: JsonSchema, names: readonly string[]): JsonSchema {
  if (!names.length || typeof schema['properties'] !== 'object') return schema;
  const properties = { ...(schema['properties'] as Record<string, unknown>) };
  for (const name of names) delete properties[name];
  const required = ((schema['required'] as string[] | undefined) ?? []).filter((r) => !names.includes(r));
  return { ...schema, properties, ...(required.length ? { required } : { required: undefined }) };
}
