import { describe, expect, it } from 'vitest';
import type { ChannelRoute } from './channel-route';
import { RouteTable } from './route-table';

const route = (name: string, method: ChannelRoute['method'], path: string): ChannelRoute => ({
  name,
  method,
  path,
  service: `svc.${name}`,
  security: '',
  timeoutMs: 0,
});

describe('RouteTable', () => {
  const table = new RouteTable(
    [
      route('list', 'GET', '/customers'),
      route('get', 'GET', '/customers/:id'),
      route('me', 'GET', '/customers/me'),
      route('update', 'PUT', '/customers/:id'),
      route('order', 'GET', '/customers/:id/orders/:order'),
      route('root', 'GET', '/'),
    ],
    { reserved: ['/healthz'] },
  );

  it('matches literal paths before parameters and decodes parameters', () => {
    expect(table.match('GET', '/customers')).toMatchObject({ kind: 'found', route: { name: 'list' }, params: {} });
    expect(table.match('GET', '/customers/me')).toMatchObject({ kind: 'found', route: { name: 'me' } });
    expect(table.match('GET', '/customers/a%2Fb%20c')).toMatchObject({ kind: 'found', route: { name: 'get' }, params: { id: 'a/b c' } });
    expect(table.match('GET', '/customers/7/orders/9')).toMatchObject({ route: { name: 'order' }, params: { id: '7', order: '9' } });
    expect(table.match('GET', '/')).toMatchObject({ route: { name: 'root' } });
  });

  it('falls back to a parameter when the literal path lacks the method', () => {
    expect(table.match('PUT', '/customers/me')).toMatchObject({ kind: 'found', route: { name: 'update' }, params: { id: 'me' } });
  });

  it('backs out of a literal branch that ends nowhere deeper and takes the parameter', () => {
    const deep = new RouteTable([route('literal', 'GET', '/a/b/d'), route('param', 'GET', '/a/:x/c'), route('post', 'POST', '/a/b/c')]);
    expect(deep.match('GET', '/a/b/c')).toEqual({ kind: 'found', route: expect.objectContaining({ name: 'param' }), params: { x: 'b' } });
    expect(deep.match('GET', '/a/b/d')).toEqual({ kind: 'found', route: expect.objectContaining({ name: 'literal' }), params: {} });
    expect(deep.match('DELETE', '/a/b/c')).toEqual({ kind: 'no-method', allow: ['GET', 'POST'] });
  });

  it('tells a missing path from a missing method', () => {
    expect(table.match('GET', '/nothing')).toEqual({ kind: 'no-path' });
    expect(table.match('GET', '/customers/')).toEqual({ kind: 'no-path' });
    expect(table.match('GET', '/customers/1/orders')).toEqual({ kind: 'no-path' });
    expect(table.match('DELETE', '/customers/1')).toEqual({ kind: 'no-method', allow: ['GET', 'PUT'] });
    expect(table.match('OPTIONS', '/customers')).toEqual({ kind: 'no-method', allow: ['GET'] });
  });

  it("gives each route's parameters as own properties, __proto__ included, decoded or not", () => {
    const odd = new RouteTable([route('proto', 'GET', '/p/:__proto__/:constructor'), route('deep', 'GET', '/a/:x/b/:y')]);
    for (const path of ['/p/v/w', '/p/%76/w']) {
      const hit = odd.match('GET', path);
      if (hit.kind !== 'found') throw new Error(`no match for ${path}`);
      expect(Object.getPrototypeOf(hit.params)).toBe(Object.prototype);
      expect(Object.keys(hit.params)).toEqual(['__proto__', 'constructor']);
      expect(Object.getOwnPropertyDescriptor(hit.params, '__proto__')?.value).toBe('v');
    }
    expect(odd.match('GET', '/a/1/b/2')).toEqual({ kind: 'found', route: expect.objectContaining({ name: 'deep' }), params: { x: '1', y: '2' } });
    // A decoded '/' stays inside its segment.
    expect(odd.match('GET', '/a/1%2F2/b/3')).toEqual({ kind: 'found', route: expect.objectContaining({ name: 'deep' }), params: { x: '1/2', y: '3' } });
    expect(odd.match('GET', '/a/1%2Fb/2')).toEqual({ kind: 'no-path' });
    expect(odd.match('GET', '/a/%41/b/')).toEqual({ kind: 'no-path' });
  });

  it('reports bad percent-encoding', () => {
    expect(table.match('GET', '/customers/%E0%A4%A')).toEqual({ kind: 'bad-encoding', segment: '%E0%A4%A' });
    expect(table.match('GET', '/customers/%zz')).toEqual({ kind: 'bad-encoding', segment: '%zz' });
  });

  it('refuses a bad set with an error per route and keeps the table', () => {
    const errors = table.replace([
      route('ok', 'GET', '/fine/:x'),
      route('nopath', 'GET', 'customers'),
      route('empty', 'GET', '/a//b'),
      route('twice', 'GET', '/a/:x/:x'),
      route('dup', 'GET', '/fine/:y'),
      route('space', 'GET', '/a b'),
      route('hz', 'GET', '/healthz'),
      { ...route('verb', 'GET', '/v'), method: 'TRACE' as never },
      { ...route('slow', 'GET', '/s'), timeoutMs: -1 },
      { ...route('nosvc', 'GET', '/n'), service: '' },
    ]);
    expect(errors).toEqual([
      { route: 'nopath', message: `route 'nopath' has path "customers": it must start with '/'` },
      { route: 'empty', message: `route 'empty' has path "/a//b": it has an empty segment` },
      { route: 'twice', message: `route 'twice' has path "/a/:x/:x": parameter ':x' appears twice` },
      { route: 'dup', message: `route 'dup': GET /fine/:y is already served by route 'ok'` },
      { route: 'space', message: expect.stringContaining(`route 'space' has path "/a b": segment 'a b' holds a character`) },
      { route: 'hz', message: `route 'hz' has path '/healthz', which the server serves itself` },
      { route: 'verb', message: `route 'verb' has method "TRACE"; use one of GET, POST, PUT, PATCH, DELETE` },
      { route: 'slow', message: expect.stringContaining(`route 'slow' has timeoutMs -1`) },
      { route: 'nosvc', message: `route 'nosvc' has service ""; name the service to invoke` },
    ]);
    expect(table.size).toBe(6);
    expect(table.match('GET', '/customers')).toMatchObject({ kind: 'found', route: { name: 'list' } });
  });

  it('swaps in a valid set at once', () => {
    const own = new RouteTable([route('a', 'GET', '/a')]);
    const before = own.match('GET', '/a');
    expect(own.replace([route('b', 'POST', '/b')])).toEqual([]);
    expect(own.match('GET', '/a')).toEqual({ kind: 'no-path' });
    expect(own.match('POST', '/b')).toMatchObject({ kind: 'found', route: { name: 'b' } });
    // A request that matched before the swap keeps its route.
    expect(before).toMatchObject({ kind: 'found', route: { name: 'a' } });
  });
});
