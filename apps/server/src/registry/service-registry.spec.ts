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
    expect(registry.ofLane('cpu', prepared.next).map((s) => s.name)).toEqual(['cpu1']);
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
});
