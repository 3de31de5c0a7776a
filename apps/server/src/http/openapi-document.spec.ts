import { describe, expect, it } from 'vitest';
import type { ChannelRoute } from '../channels/channel-route';
import { openApiDocument } from './openapi-document';

type Operation = {
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { headers?: Record<string, unknown> }>;
};

const route = (name: string, method: ChannelRoute['method'], path: string, service: string, extra: Partial<ChannelRoute> = {}): ChannelRoute => ({
  name,
  method,
  path,
  service,
  security: '',
  timeoutMs: 0,
  ...extra,
});

// What zod 4 gives for z.object({ customerId: z.string(), quantity: z.number().int().min(1), note: z.string().optional() }).
const ORDER = {
  type: 'object',
  properties: { customerId: { type: 'string' }, quantity: { type: 'integer', minimum: 1 }, note: { type: 'string' } },
  required: ['customerId', 'quantity'],
  additionalProperties: false,
};
const NOTE = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, required: ['id'] };
const SCHEMAS: Record<string, { input?: Record<string, unknown>; output?: Record<string, unknown> }> = {
  'shop.create-order': { input: ORDER, output: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] } },
  'crm.note': { input: NOTE },
};

const ROUTES: ChannelRoute[] = [
  route('create-order', 'POST', '/customers/:customerId/orders', 'shop.create-order'),
  route('queue-order', 'POST', '/async/orders', 'shop.create-order', { async: true }),
  route('put-note', 'PUT', '/notes/:id', 'crm.note'),
  route('get-customer', 'GET', '/customers/:id', 'crm.get', { security: 'partners', rateLimitPerSecond: 5 }),
  route('list', 'GET', '/customers', 'crm.list'),
  route('delete-note', 'DELETE', '/notes/:id', 'crm.note'),
];

const document = () =>
  openApiDocument({
    cluster: 'c1',
    revision: 7,
    routes: ROUTES,
    security: [{ name: 'partners', spec: { apiKey: { header: 'x-api-key', keySha256: 'ab'.repeat(32) } } }],
    schemasOf: (service) => SCHEMAS[service] ?? {},
  });
const operation = (path: string, method: string): Operation => (document()['paths'] as Record<string, Record<string, Operation>>)[path]![method]!;
const statuses = (path: string, method: string): string[] => Object.keys(operation(path, method).responses).sort();

describe('openApiDocument', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const { Validator } = (await import('@seriousme/openapi-schema-validator')) as unknown as {
      Validator: new () => { validate(doc: unknown): Promise<{ valid: boolean; errors?: unknown }> };
    };
    const verdict = await new Validator().validate(document());
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);
  });

  it('marks a request body required when the body must carry a field, path fields left out', () => {
    // customerId comes from the path: quantity is still required in the body.
    expect(operation('/customers/{customerId}/orders', 'post').requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { properties: { quantity: { type: 'integer', minimum: 1 }, note: { type: 'string' } }, required: ['quantity'] } } },
    });
    expect(operation('/async/orders', 'post').requestBody).toMatchObject({ required: true });
    // The only required field is the path's: the body may be left out.
    const note = operation('/notes/{id}', 'put').requestBody!;
    expect(note.required).toBe(false);
    expect(note.content['application/json']!.schema['required']).toBeUndefined();
  });

  it('documents every status a channel can answer, and none it cannot', () => {
    expect(statuses('/customers/{customerId}/orders', 'post')).toEqual(['200', '400', '404', '413', '415', '500', '503', '504']);
    // Async: 202, no service failure or timeout to report; the Idempotency-Key header.
    expect(statuses('/async/orders', 'post')).toEqual(['202', '400', '413', '415', '503']);
    expect(operation('/async/orders', 'post').parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
    // Security: 401; a rate limit: 429 with Retry-After; a GET reads no body: no 413 or 415.
    expect(statuses('/customers/{id}', 'get')).toEqual(['200', '400', '401', '404', '429', '500', '503', '504']);
    expect(operation('/customers/{id}', 'get').responses['429']!.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
    expect(operation('/customers/{id}', 'get').responses['503']!.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
    // No path parameter: no 404.
    expect(statuses('/customers', 'get')).toEqual(['200', '400', '500', '503', '504']);
    expect(statuses('/notes/{id}', 'delete')).toEqual(['200', '400', '404', '413', '415', '500', '503', '504']);
  });

  it('gives path parameters a non-empty string schema (an empty segment matches no channel)', () => {
    expect(operation('/customers/{id}', 'get').parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1 } }]);
    expect(operation('/notes/{id}', 'delete').parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1 } },
      { name: 'note', in: 'query', required: false, schema: { type: 'string' } },
    ]);
  });
});
