import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { compileServiceFile, type CompiledServiceFile } from './compile-service-file';
import { inspectServices } from './inspect-services';

function compile(path: string, content: string): CompiledServiceFile {
  return compileServiceFile({ path, content });
}

/** Inspects and expects an InvalidArgumentError on `files`; returns it for further checks. */
function inspectError(files: CompiledServiceFile[], timeoutMs?: number): InvalidArgumentError {
  try {
    inspectServices(files, timeoutMs);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).field).toBe('files');
    return err as InvalidArgumentError;
  }
  throw new Error('expected inspectServices to fail');
}

const SDK = "import { defineService } from '@laneway/sdk';\n";

describe('inspectServices', () => {
  it("keeps the JSON Schema of a Standard Schema input (without $schema), and none for one that throws, loops or has none", () => {
    const schema = (jsonSchema: string) => `{ '~standard': { version: 1, vendor: 't', validate: (v) => ({ value: v }), jsonSchema: { input: ${jsonSchema}, output: () => ({}) } } }`;
    const file = compile(
      'services/schemas.js',
      `${SDK}
export const typed = defineService({ name: 's.typed', input: ${schema("() => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { n: { type: 'integer' } } })")}, handle: () => 1 });
export const throws = defineService({ name: 's.throws', input: ${schema("() => { throw new Error('cannot') }")}, handle: () => 1 });
export const loops = defineService({ name: 's.loops', input: ${schema('() => { for (;;); }')}, handle: () => 1 });
export const parseOnly = defineService({ name: 's.parse', input: { parse: (v) => v }, handle: () => 1 });
export const none = defineService({ name: 's.none', handle: () => 1 });
`,
    );
    const started = Date.now();
    const byName = Object.fromEntries(inspectServices([file]).map((s) => [s.name, s.inputSchema]));
    expect(Date.now() - started).toBeLessThan(1800);
    expect(JSON.parse(byName['s.typed']!)).toEqual({ type: 'object', properties: { n: { type: 'integer' } } });
    expect(byName).toMatchObject({ 's.throws': '', 's.loops': '', 's.parse': '', 's.none': '' });
  });

  it('gives each input schema its own time: one that starts late in a shared run gets a run of its own', () => {
    const slow = (n: number) =>
      `{ '~standard': { version: 1, vendor: 't', validate: (v) => ({ value: v }), jsonSchema: { input: () => { const end = Date.now() + 300; while (Date.now() < end); return { type: 'integer', minimum: ${n} }; }, output: () => ({}) } } }`;
    const file = compile(
      'services/slow-schemas.js',
      `${SDK}
export const first = defineService({ name: 's.first', input: ${slow(1)}, handle: () => 1 });
export const second = defineService({ name: 's.second', input: ${slow(2)}, handle: () => 1 });
export const loops = defineService({ name: 's.loops', input: { '~standard': { version: 1, vendor: 't', validate: (v) => ({ value: v }), jsonSchema: { input: () => { for (;;); }, output: () => ({}) } } }, handle: () => 1 });
export const last = defineService({ name: 's.last', input: ${slow(3)}, handle: () => 1 });
`,
    );
    const byName = Object.fromEntries(inspectServices([file]).map((s) => [s.name, s.inputSchema]));
    expect(byName).toEqual({
      's.first': JSON.stringify({ type: 'integer', minimum: 1 }),
      's.second': JSON.stringify({ type: 'integer', minimum: 2 }),
      's.loops': '',
      's.last': JSON.stringify({ type: 'integer', minimum: 3 }),
    });
  });

  it('reads the name and lane of every service across files, default export first', async () => {
    const orders = compile(
      'services/orders.ts',
      `${SDK}
export const list = defineService({ name: 'orders.list', handle: () => [] });
export default defineService({ name: 'orders.get', lane: 'cpu', handle: (id: string) => ({ id }) });
export const create = defineService({ name: 'orders.create', lane: 'network', handle: () => 1 });
`,
    );
    const billing = compile(
      'services/billing.js',
      `${SDK}
export const charge = defineService({ name: 'billing.charge', lane: 'cpu', handle: () => true });
`,
    );

    const services = inspectServices([orders, billing]);

    const summary = services.map((s) => ({ name: s.name, lane: s.lane, path: s.path }));
    expect(summary).toHaveLength(4);
    // The default export comes first; swc emits named exports in its own order, so compare those as a set.
    expect(summary[0]).toEqual({ name: 'orders.get', lane: 'cpu', path: 'services/orders.ts' });
    expect(summary.slice(1, 3)).toEqual(
      expect.arrayContaining([
        { name: 'orders.list', lane: 'network', path: 'services/orders.ts' },
        { name: 'orders.create', lane: 'network', path: 'services/orders.ts' },
      ]),
    );
    expect(summary[3]).toEqual({ name: 'billing.charge', lane: 'cpu', path: 'services/billing.js' });
    // Every service carries its file's version, source and compiled code.
    for (const s of services.slice(0, 3)) {
      expect(s).toMatchObject({ version: orders.version, source: orders.source, code: orders.code });
    }
    expect(services[3]).toMatchObject({ version: billing.version, source: billing.source, code: billing.code });
    expect(orders.version).not.toBe(billing.version);
  });

  it('counts a definition exported under two names once', async () => {
    const file = compile(
      'twice.ts',
      `${SDK}
const svc = defineService({ name: 'alias.one', handle: () => 1 });
export default svc;
export const alsoSvc = svc;
`,
    );
    expect(inspectServices([file]).map((s) => s.name)).toEqual(['alias.one']);
  });

  it('rejects a service name defined in two files, naming both paths', async () => {
    const first = compile('team-a/users.ts', `${SDK}export default defineService({ name: 'users.get', handle: () => 1 });\n`);
    const second = compile('team-b/users.ts', `${SDK}export const u = defineService({ name: 'users.get', handle: () => 2 });\n`);

    const err = inspectError([first, second]);

    expect(err.message).toContain("service 'users.get' is defined twice");
    expect(err.message).toContain('team-a/users.ts');
    expect(err.message).toContain('team-b/users.ts');
    expect(err.details).toMatchObject({ field: 'files', service: 'users.get' });
  });

  it('names the file whose top-level code throws', async () => {
    const good = compile('fine.ts', `${SDK}export default defineService({ name: 'fine.svc', handle: () => 1 });\n`);
    const bad = compile('services/explodes.ts', `${SDK}throw new Error('config missing: API_KEY');\n`);

    const err = inspectError([good, bad]);

    expect(err.message).toBe('services/explodes.ts: loading failed: config missing: API_KEY');
    expect(err.details).toEqual({ field: 'files', path: 'services/explodes.ts' });
  });

  it('names the file when defineService rejects a definition', async () => {
    const bad = compile('bad-lane.ts', `${SDK}export default defineService({ name: 'x.y', lane: 'gpu' as never, handle: () => 1 });\n`);

    const err = inspectError([bad]);

    expect(err.message).toMatch(/^bad-lane\.ts: loading failed: .*'x\.y'.*lane.*gpu/);
  });

  it('stops an infinite loop at the top level after timeoutMs', async () => {
    const loop = compile('spin.js', `${SDK}while (true) {}\nexport default defineService({ name: 'never', handle: () => 1 });\n`);

    const started = performance.now();
    const err = inspectError([loop], 100);
    const elapsed = performance.now() - started;

    expect(err.message).toMatch(/^spin\.js: loading failed: Script execution timed out/);
    expect(err.details).toMatchObject({ path: 'spin.js' });
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(2000);
  });

  it('rejects a file that exports no service', async () => {
    const helper = compile('lib/helpers.ts', 'export const add = (a: number, b: number): number => a + b;\n');

    const err = inspectError([helper]);

    expect(err.message).toMatch(/^lib\/helpers\.ts: exports no service/);
    expect(err.details).toMatchObject({ path: 'lib/helpers.ts' });
  });

  it("keeps the uploads' global changes out of the control plane", async () => {
    const key = `lanewayLeak_${randomBytes(4).toString('hex')}`;
    const file = compile(
      'globals.js',
      `${SDK}
globalThis.${key} = 1;
Object.prototype.${key} = 2;
Array.prototype.${key} = 3;
JSON.parse = () => 'hijacked';
Math.random = () => 4;
export default defineService({ name: 'globals.svc', handle: () => 1 });
`,
    );

    expect(inspectServices([file]).map((s) => s.name)).toEqual(['globals.svc']);

    const host = globalThis as Record<string, unknown>;
    expect(host[key]).toBeUndefined();
    expect(({} as Record<string, unknown>)[key]).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>)[key]).toBeUndefined();
    expect(JSON.parse('{"a":1}')).toEqual({ a: 1 });
    expect(Math.random()).toBeLessThan(1);
  });

  it('gives every call a fresh context: globals set by one deploy are gone in the next', async () => {
    const key = `lanewayMarker_${randomBytes(4).toString('hex')}`;
    const setter = compile('set.js', `${SDK}globalThis.${key} = 'set';\nexport default defineService({ name: 'ctx.set', handle: () => 1 });\n`);
    // Names its service after what it sees, so the result shows whether the global survived.
    const reader = (path: string) =>
      compile(
        path,
        `${SDK}export default defineService({ name: typeof globalThis.${key} === 'undefined' ? 'ctx.fresh' : 'ctx.shared', handle: () => 1 });\n`,
      );

    // Within one call the files share a context...
    expect(inspectServices([setter, await reader('read-same.js')]).map((s) => s.name)).toEqual(['ctx.set', 'ctx.shared']);
    // ...and the next call starts clean.
    expect(inspectServices([await reader('read-next.js')]).map((s) => s.name)).toEqual(['ctx.fresh']);
  });

  it('gives uploads no host objects, no live timers and no real modules', async () => {
    const sneaky = compile(
      'services/sneaky.js',
      `const { defineService } = require('@laneway/sdk');
const fs = require('node:fs');
fs.writeFileSync('/tmp/laneway-sandbox-escape', 'x');
setTimeout(() => { throw new Error('fired in the control plane'); }, 1);
if (typeof URL !== 'undefined') URL.prototype.polluted = 1;
Object.getPrototypeOf(console).polluted = 2;
exports.default = defineService({ name: 'sneaky', handle: () => 1 });`,
    );
    const [service] = inspectServices([sneaky]);
    expect(service?.name).toBe('sneaky');
    await new Promise((r) => setTimeout(r, 20));
    expect((URL.prototype as unknown as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();
    const { existsSync } = await import('node:fs');
    expect(existsSync('/tmp/laneway-sandbox-escape')).toBe(false);
  });
});
