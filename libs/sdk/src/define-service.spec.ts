import { describe, expect, it } from 'vitest';
import { defineService, isServiceDefinition } from './define-service';

describe('defineService', () => {
  it('returns a frozen definition that defaults to the network lane', () => {
    const def = defineService({ name: 'hello.greet', handle: () => 'hi' });
    expect(def.lane).toBe('network');
    expect(Object.isFrozen(def)).toBe(true);
    expect(isServiceDefinition(def)).toBe(true);
    expect(isServiceDefinition({ name: 'x', handle: () => 1 })).toBe(false);
  });

  it('names the bad field and value', () => {
    expect(() => defineService({ name: '1bad', handle: () => 1 })).toThrow(/name '1bad' is invalid/);
    expect(() => defineService({ name: 'a', lane: 'gpu' as never, handle: () => 1 })).toThrow(
      /service 'a' has lane 'gpu'/,
    );
    expect(() => defineService({ name: 'a' } as never)).toThrow(/service 'a' has no handle/);
    expect(() => defineService({ name: 'a', timeoutMs: 0, handle: () => 1 })).toThrow(/service 'a' has timeoutMs 0/);
    expect(() => defineService({ name: 'a', concurrency: 1.5, handle: () => 1 })).toThrow(/concurrency 1.5/);
  });
});
