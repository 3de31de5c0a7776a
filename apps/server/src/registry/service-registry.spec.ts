import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type ServiceCode } from './service-registry';

const module = (name: string, output: string, lane = 'network'): string => `
const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: '${name}', lane: '${lane}', handle: () => ${output} });
`;

const spec = (name: string, version: string, code: string, lane: 'network' | 'cpu' = 'network'): ServiceCode => ({
  name,
  version,
  lane,
  path: `${name}.js`,
  code,
});

describe('ServiceRegistry', () => {
  it('applies a full snapshot, then deltas with changes and removals', async () => {
    const registry = new ServiceRegistry();
    const first = await registry.prepare({
      revision: 1,
      full: true,
      removed: [],
      services: [spec('a', 'a1', module('a', '"a1"')), spec('b', 'b1', module('b', '"b1"'))],
    });
    expect(first.errors).toEqual([]);
    registry.commit(first);
    expect(registry.revision).toBe(1);
    expect(await registry.get('a')!.definition!.handle(null, {} as never)).toBe('a1');

    registry.commit(
      await registry.prepare({ revision: 2, full: false, removed: ['b'], services: [spec('a', 'a2', module('a', '"a2"'))] }),
    );
    expect(registry.revision).toBe(2);
    expect(registry.get('b')).toBeUndefined();
    expect(await registry.get('a')!.definition!.handle(null, {} as never)).toBe('a2');
  });

  it('keeps the last good state when a service fails to load, and reports each failure', async () => {
    const registry = new ServiceRegistry();
    registry.commit(await registry.prepare({ revision: 1, full: true, removed: [], services: [spec('a', 'a1', module('a', '1'))] }));
    const bad = await registry.prepare({
      revision: 2,
      full: false,
      removed: ['a'],
      services: [spec('c', 'c1', 'throw new Error("needs a config file")'), spec('d', 'd1', module('other', '1'))],
    });
    expect(bad.errors).toEqual([
      { service: 'c', message: 'c.js: loading failed: needs a config file' },
      { service: 'd', message: "d.js does not export a service named 'd'" },
    ]);
    // Nothing committed: 'a' still serves at revision 1.
    expect(registry.revision).toBe(1);
    expect(registry.get('a')?.version).toBe('a1');
  });

  it('a full snapshot drops services it does not list', async () => {
    const registry = new ServiceRegistry();
    registry.commit(await registry.prepare({ revision: 1, full: true, removed: [], services: [spec('a', 'a1', module('a', '1'))] }));
    registry.commit(await registry.prepare({ revision: 5, full: true, removed: [], services: [spec('b', 'b1', module('b', '1'))] }));
    expect(registry.get('a')).toBeUndefined();
    expect(registry.get('b')?.version).toBe('b1');
  });

  it('leaves CPU-lane code to the pool and rejects a lane mismatch', async () => {
    const registry = new ServiceRegistry();
    const prepared = await registry.prepare({
      revision: 1,
      full: true,
      removed: [],
      services: [spec('cpu1', 'x1', 'this is not even evaluated here', 'cpu'), spec('n', 'n1', module('n', '1', 'cpu'))],
    });
    expect(prepared.errors).toEqual([{ service: 'n', message: "service 'n' declares lane 'cpu' but was pushed as 'network'" }]);
    expect(registry.ofLane('cpu', prepared).map((s) => s.name)).toEqual(['cpu1']);
  });

  it('without a checker, stops an endless top level on this thread at the load timeout and names the service', async () => {
    const registry = new ServiceRegistry({ loadTimeoutMs: 100 });
    registry.commit(await registry.prepare({ revision: 1, full: true, removed: [], services: [spec('a', 'a1', module('a', '1'))] }));
    const started = performance.now();
    const bad = await registry.prepare({
      revision: 2,
      full: false,
      removed: [],
      services: [spec('b', 'b1', module('b', '2')), spec('spin', 's1', 'for (;;) {}'), spec('c', 'c1', module('c', '3'))],
    });
    expect(bad.errors).toEqual([{ service: 'spin', message: 'spin.js: top-level code ran past 100 ms (LANEWAY_LOAD_TIMEOUT_MS)' }]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(registry.get('a')?.version).toBe('a1');
  });
  it('applies a delta to the services it names only, lane moves included, and lists the next state before it commits', async () => {
    const registry = new ServiceRegistry();
    registry.commit(
      await registry.prepare({
        revision: 1,
        full: true,
        removed: [],
        services: [spec('a', 'a1', module('a', '1')), spec('b', 'b1', 'cpu code', 'cpu'), spec('c', 'c1', module('c', '1')), spec('keep', 'k1', 'cpu code', 'cpu')],
      }),
    );
    const delta = await registry.prepare({
      revision: 2,
      full: false,
      removed: ['a', 'gone-already'],
      services: [spec('b', 'b2', module('b', '2')), spec('c', 'c2', 'cpu code', 'cpu'), spec('d', 'd1', 'cpu code', 'cpu')],
    });
    expect(delta.errors).toEqual([]);
    expect(delta.removed).toEqual(['a']);
    const names = (services: { name: string }[]): string[] => services.map((s) => s.name).sort();
    // Before the commit: the next state's lanes, while the current state still serves.
    expect(names(registry.ofLane('cpu', delta))).toEqual(['c', 'd', 'keep']);
    expect(names(registry.ofLane('network', delta))).toEqual(['b']);
    expect(names(registry.ofLane('cpu'))).toEqual(['b', 'keep']);
    expect(registry.get('a')?.version).toBe('a1');
    expect(names([...registry.touched(delta, false)])).toEqual(['b', 'c', 'd']);
    expect(names([...registry.touched(delta, true)])).toEqual(['b', 'c', 'd', 'keep']);
    registry.commit(delta);
    expect(registry.revision).toBe(2);
    expect(registry.size).toBe(4);
    expect(registry.get('a')).toBeUndefined();
    expect(names(registry.ofLane('cpu'))).toEqual(['c', 'd', 'keep']);
    expect(names(registry.ofLane('network'))).toEqual(['b']);
    expect(await registry.get('b')!.definition!.handle(null, {} as never)).toBe(2);
    expect(registry.get('c')!.definition).toBeUndefined();
  });

  it('drops a module once no service runs its version, and one that only a refused push evaluated', async () => {
    const g = globalThis as { registryEvaluations?: string[] };
    g.registryEvaluations = [];
    // Two services in one file share its version; each evaluation of a version leaves its mark.
    const pair = (version: string): string => `
const { defineService } = require('@laneway/sdk');
globalThis.registryEvaluations.push('${version}');
exports.x = defineService({ name: 'x', handle: () => '${version}' });
exports.y = defineService({ name: 'y', handle: () => '${version}' });
`;
    const registry = new ServiceRegistry();
    const push = async (revision: number, services: ServiceCode[], removed: string[] = []) => {
      const prepared = await registry.prepare({ revision, full: false, removed, services });
      if (!prepared.errors.length) registry.commit(prepared);
      return prepared.errors;
    };
    await push(1, [spec('x', 'v1', pair('v1')), spec('y', 'v1', pair('v1'))]);
    // y still runs v1: putting x back on it evaluates nothing.
    await push(2, [spec('x', 'v2', pair('v2'))]);
    await push(3, [spec('x', 'v1', pair('v1'))]);
    expect(g.registryEvaluations).toEqual(['v1', 'v2']);
    // Now nothing runs v2 (dropped at commit 3): it is evaluated again when it comes back.
    await push(4, [spec('x', 'v2', pair('v2'))]);
    expect(g.registryEvaluations).toEqual(['v1', 'v2', 'v2']);
    // A refused push evaluated v3; the next commit drops it, so a later push evaluates it again.
    expect(await push(5, [spec('x', 'v3', pair('v3')), spec('z', 'z1', 'throw new Error("no")')])).toHaveLength(1);
    await push(5, [], ['y']);
    await push(6, [spec('x', 'v3', pair('v3'))]);
    expect(g.registryEvaluations).toEqual(['v1', 'v2', 'v2', 'v3', 'v3']);
    expect(await registry.get('x')!.definition!.handle(null, {} as never)).toBe('v3');
    expect(registry.get('y')).toBeUndefined();
  });
});
