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
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * An OpenAPI 3.1 document of the cluster's channels as this server holds them: one operation per
 * channel (operationId = channel name), path parameters, query parameters or a JSON body from the
 * service's input schema, the response from its output schema, and the security schemes.
 */
export function openApiDocument(sources: OpenApiSources): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...sources.routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method))) {
    const names = route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
    const path = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
    const { input, output } = sources.schemasOf(route.service);
    const properties = (input?.['properties'] ?? {}) as Record<string, JsonSchema>;
    const required = new Set((input?.['required'] as string[] | undefined) ?? []);
    const parameters: Record<string, unknown>[] = names.map((name) => ({ name, in: 'path', required: true, schema: properties[name] ?? { type: 'string' } }));
    let requestBody: Record<string, unknown> | undefined;
    if (BODY_METHODS.has(route.method)) {
      if (input) requestBody = { required: false, content: { 'application/json': { schema: withoutPathFields(input, names) } } };
    } else {
      for (const [name, schema] of Object.entries(properties)) {
        if (!names.includes(name)) parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    }
    const responses: Record<string, unknown> = route.async
      ? { '202': { description: 'queued', content: { 'application/json': { schema: { type: 'object', properties: { jobId: { type: 'string' } }, required: ['jobId'] } } } } }
      : { '200': { description: `the output of ${route.service}`, content: { 'application/json': { schema: output ?? {} } } } };
    for (const [code, description] of [
      ['400', 'bad input: malformed JSON, or input the service schema rejects'],
      ...(route.security ? [['401', 'missing or invalid credentials']] : []),
      ...(route.rateLimitPerSecond ? [['429', 'over the rate limit; see Retry-After']] : []),
      ['500', 'the service failed'],
      ['503', 'no capacity to start the call in time; see Retry-After'],
      ['504', "past the channel's timeout"],
    ] as const) {
      responses[code] = { description, content: { 'application/json': { schema: ERROR_REF } } };
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
      securitySchemes,
    },
  };
}

/** The body's schema: the input's, less the fields the path carries (they win over the body anyway). */
function withoutPathFields(schema: JsonSchema, names: readonly string[]): JsonSchema {
  if (!names.length || typeof schema['properties'] !== 'object') return schema;
  const properties = { ...(schema['properties'] as Record<string, unknown>) };
  for (const name of names) delete properties[name];
  const required = ((schema['required'] as string[] | undefined) ?? []).filter((r) => !names.includes(r));
  return { ...schema, properties, ...(required.length ? { required } : { required: undefined }) };
}
